"""The `status-page` dialect's config: `StatusPageSettings`, checked when the config loads.

The flavor's preset (adapter/integrations/status_page_presets.py) gives the defaults; the
receiver's `paths`, `fields`, `status`, `impact` and `create_fields` override them, and
every combination that could not work against the API is a config error naming the key.
The dialect itself, which turns events into requests, is adapter/integrations/status_page.py.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, model_validator

from adapter.config.model import Model
from adapter.config.receivers import KeyedReceiverSettings
from adapter.integrations.status_page_presets import FIELDS, PATHS, PRESETS, Preset, Shape
from adapter.keys import dedup_key_for
from adapter.payload import Alert
from adapter.secrets import redact_url
from adapter.templating import Fields


class SeverityMap(Model):
    """Adapter severity -> a value of the flavor's vocabulary; unset: the flavor's default."""

    critical: str | None = None
    error: str | None = None
    warning: str | None = None
    info: str | None = None


class StatusPageSettings(KeyedReceiverSettings):
    type: Literal["status-page"]
    url: str  # the base the paths are relative to, e.g. https://api.statuspage.io/v1/pages/ID
    flavor: Literal["statuspage", "simple", "pagecalm", "alert24-status"] = "statuspage"
    page_id: str = ""  # for APIs that take it in the body or a path ({page_id})
    auth_scheme: str | None = None  # "<auth_scheme> <key>"; default: the flavor's
    component_label: str = "service"
    components: dict[str, str] = Field(min_length=1)  # label value -> component id
    status: SeverityMap = Field(default_factory=SeverityMap)  # component status by severity
    impact: SeverityMap = Field(default_factory=SeverityMap)  # incident impact by severity
    publish: bool = False
    raw_input_format: Literal["text", "object"] | None = None  # default: the flavor's
    create_fields: dict[str, Any] = Field(default_factory=dict)  # constant extras; null: drop
    paths: dict[str, str] = Field(default_factory=dict)  # overrides of the flavor's Shape
    fields: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _coherent(self) -> StatusPageSettings:
        names = {"paths": PATHS, "fields": FIELDS}
        for where, allowed in names.items():
            for name in getattr(self, where):
                if name not in allowed:
                    raise ValueError(f"{where}.{name}: unknown; use one of {', '.join(allowed)}")
        shape, rule, preset = self.shape(), self.dedup_key, self.preset
        if (
            rule.strategy == "group"
            or (rule.strategy == "labels" and self.component_label not in rule.labels)
            or (rule.strategy == "template" and not _template_tells_components(self))
        ):
            raise ValueError(
                f"dedup_key: a key must not span components; use strategy fingerprint, "
                f"labels that include {self.component_label!r}, or a template that reads "
                f"labels.{self.component_label}"
            )
        metadata = shape.raw_input.split(".")[0] == "metadata"
        if self.flavor == "statuspage" and metadata and self.raw_input_format == "text":
            raise ValueError(  # a text there is refused by Statuspage: every incident lost
                "raw_input_format: Statuspage's metadata takes objects only (each top-level "
                "value must be an object); use object, or fields.raw_input outside metadata"
            )
        if self.storm_guard is not None:  # its group-wide aggregate has no one component
            raise ValueError(
                "storm_guard: not for status-page; for one incident per component use "
                f"dedup_key: {{strategy: labels, labels: [{self.component_label}]}}"
            )
        self._check_vocabulary("status", self.status, preset.statuses[1:])
        if shape.impact:
            self._check_vocabulary("impact", self.impact, preset.impacts)
        if shape.create:
            self._check_create(shape)
        if shape.page_id and not self.page_id:
            raise ValueError(f"page_id: required, sent as {shape.page_id!r}")
        for name in PATHS[:-1]:
            path = getattr(shape, name)
            if path.startswith("/") or "://" in path:
                raise ValueError(f"paths.{name}: {redact_url(path)!r} must be relative to url")
        if shape.component_method not in ("PATCH", "PUT", "POST"):
            raise ValueError("paths.component_method: use PATCH, PUT or POST")
        if shape.component and "{component_id}" not in shape.component:
            raise ValueError("paths.component: must hold {component_id} (or be empty)")
        if not shape.status:
            raise ValueError("fields.status: must not be empty")
        if shape.unresolved:
            self._check_listing(shape, preset)
        elif not shape.create and not shape.component:
            raise ValueError("paths: nothing to send; set paths.create or paths.component")
        elif shape.create and shape.component:
            raise ValueError(
                "paths.component: without a listing (paths.unresolved) the adapter cannot "
                "tell which incidents still hold a component; use one of create or component"
            )
        return self

    def _check_vocabulary(self, name: str, given: SeverityMap, allowed: tuple[str, ...]) -> None:
        for level, value in given.model_dump(exclude_none=True).items():
            if value not in allowed:
                raise ValueError(
                    f"{name}.{level}: {value!r} is not a value of flavor {self.flavor!r}; "
                    f"use one of {', '.join(allowed)}"
                )

    def _check_create(self, shape: Shape) -> None:
        preset = self.preset
        if not shape.title:
            raise ValueError("fields.title: must not be empty when incidents are created")
        if self.publish and preset.always_draft:
            raise ValueError(
                f"publish: {self.flavor!r} makes every incident a draft for a person to "
                "publish; the API has no way to publish it, so leave publish: false"
            )
        if not self.publish and not shape.draft and not preset.always_draft:
            raise ValueError(
                f"publish: {self.flavor!r} has no draft incidents (Statuspage v1 shows an "
                "incident once created); set publish: true, or fields.draft for an API with drafts"
            )
        taken = {getattr(shape, n) for n in FIELDS} - {""}
        for name, value in self.create_fields.items():
            if name in taken:
                raise ValueError(f"create_fields.{name}: the adapter sets it; see fields")
            allowed = preset.choices.get(name)
            if allowed is not None and value is not None and value not in allowed:
                choices = ", ".join(str(a).lower() if isinstance(a, bool) else a for a in allowed)
                raise ValueError(f"create_fields.{name}: {value!r}; use one of {choices}")

    @staticmethod
    def _check_listing(shape: Shape, preset: Preset) -> None:
        paging = preset.paging
        given = parse_qs(urlsplit(shape.unresolved).query, keep_blank_values=True)
        if paging is not None and (paging.page in given or paging.per_page in given):
            raise ValueError(
                f"paths.unresolved: leave out {paging.page} and {paging.per_page}; the adapter "
                "adds them to page through the listing"
            )
        if "{id}" not in shape.incident:
            raise ValueError("paths.incident: must hold {id}")
        if not (shape.marker and shape.id):
            raise ValueError(
                "fields.marker and fields.id: required with a listing (paths.unresolved), "
                "e.g. marker: metadata.incident_adapter"
            )

    @property
    def preset(self) -> Preset:
        return PRESETS[self.flavor]

    def shape(self) -> Shape:
        scheme = {} if self.auth_scheme is None else {"auth_scheme": self.auth_scheme}
        return Shape(**{**self.preset.shape, **self.fields, **self.paths, **scheme})

    def status_map(self) -> dict[str, str]:
        return {**self.preset.status_map, **self.status.model_dump(exclude_none=True)}

    def impact_map(self) -> dict[str, str]:
        return {**self.preset.impact_map, **self.impact.model_dump(exclude_none=True)}

    def extra_create_fields(self) -> dict[str, Any]:
        merged = {**self.preset.create_fields, **self.create_fields}
        return {name: value for name, value in merged.items() if value is not None}


def _template_tells_components(settings: StatusPageSettings) -> bool:
    """Whether a template key differs for two alerts that differ only in the component label."""
    rule = settings.dedup_key.rule(settings.name)
    keys = set()
    for value in ("component-a", "component-b"):
        # Every other label a template names exists and is the same for both alerts.
        labels = _SampleLabels({settings.component_label: value})
        alert = Alert.model_construct(status="firing", labels=labels, fingerprint="0" * 16)
        keys.add(dedup_key_for(alert, rule, "{}:{}", 255))
    return len(keys) == 2


class _SampleLabels(Fields):
    def __missing__(self, key: str) -> str:
        return f"sample-{key}"
