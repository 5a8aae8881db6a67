"""Status-page presets: where each vendor's API wants things, and in what words. Data, not flow.

adapter/integrations/status_page.py is the flow (list, create, resolve, set the component);
a `flavor` names one of these presets, and a receiver's `paths:`, `fields:`, `status:`,
`impact:`, `raw_input_format:` and `create_fields:` override it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Shape:
    """Where an API wants things: paths relative to `url`, dotted field paths ("" = none)."""

    auth_scheme: str
    unresolved: str  # GET the open incidents; may hold {page_id}; "" = the API has no listing
    create: str  # POST an incident; "" = no incidents, only component statuses
    incident: str  # PATCH an incident (to resolve it); holds {id}
    component: str  # set a component's status; holds {component_id}; "" = no such call
    component_method: str  # PATCH (Statuspage) or PUT (Alert24)
    wrap: str  # the object an incident's fields go in ("" = top level)
    component_wrap: str
    incidents: str  # where a listing holds its array ("" = the answer is the array)
    id: str
    title: str
    impact: str
    component_ids: str
    component_statuses: str  # {component_id: status}, on create
    raw_input: str
    marker: str  # {dedup_key, component, status}: how the adapter finds its incidents again
    status: str  # of an incident ("resolved" closes it) and of a component
    page_id: str
    draft: str  # true unless `publish`; "" = no such field


NOT_DOCUMENTED = "not documented: ours"


@dataclass(frozen=True)
class Limits:
    """What a create may hold (docs/reference/limits.md), beside where the figures come from."""

    vendor: str  # as the note of what was cut names it
    doc_url: str  # the doc that states them; NOT_DOCUMENTED where the figures are ours
    title_chars: int = 255
    text_chars: tuple[tuple[str, int], ...] = ()  # other text fields of the create
    create_bytes: int = 65_536  # the whole create, in bytes of JSON


@dataclass(frozen=True)
class Paging:
    """How an API pages its listing: a page number (from 1) and a page size, as query
    parameters. A page as full as `size` may have a next one; a shorter page is the last."""

    doc_url: str
    page: str = "page"
    per_page: str = "per_page"
    size: int = 100  # asked for on every page: the API's largest


@dataclass(frozen=True)
class Preset:
    doc_url: str
    shape: dict[str, str]
    # Component statuses, best first: statuses[0] is "all is well" (sent on resolve).
    statuses: tuple[str, ...]
    status_map: dict[str, str]  # adapter severity -> component status
    impacts: tuple[str, ...]  # an incident's impact (severity) values; () = none sent
    impact_map: dict[str, str]
    # "text": what an on-call person would write (writing assistants want prose);
    # "object": the same facts as fields (Statuspage `metadata` holds objects only).
    raw_input_format: Literal["text", "object"]
    create_fields: dict[str, Any] = field(default_factory=dict)  # constant extras on create
    choices: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # allowed create_fields
    always_draft: bool = False  # the API makes every incident a draft for a person to publish
    marker_fallback: str = ""  # read (never written) too: where an earlier release put it
    limits: Limits = Limits("the status page", NOT_DOCUMENTED)
    paging: Paging | None = None  # None: the listing is one answer


STATUSPAGE_STATUSES = ("operational", "degraded_performance", "partial_outage", "major_outage")
STATUSPAGE_STATUS_MAP = {
    "critical": "major_outage",
    "error": "partial_outage",
    "warning": "degraded_performance",
    "info": "degraded_performance",
}
IMPACTS = ("none", "minor", "major", "critical")
IMPACT_MAP = {"critical": "critical", "error": "major", "warning": "minor", "info": "none"}
NO_LISTING = {"unresolved": "", "incident": "", "incidents": "", "marker": "", "id": ""}

PRESETS: dict[str, Preset] = {
    "statuspage": Preset(
        doc_url="https://developer.statuspage.io/",
        shape={
            "auth_scheme": "OAuth",
            "unresolved": "incidents/unresolved",
            "create": "incidents",
            "incident": "incidents/{id}",
            "component": "components/{component_id}",
            "component_method": "PATCH",
            "wrap": "incident",
            "component_wrap": "component",
            "incidents": "",
            "id": "id",
            "title": "name",
            "impact": "impact_override",
            "component_ids": "component_ids",
            "component_statuses": "components",
            "raw_input": "metadata.raw_input",  # metadata: top-level values must be objects
            "marker": "metadata.incident_adapter",
            "status": "status",
            "page_id": "",  # in the url
            "draft": "",  # no drafts: an incident is public once created
        },
        statuses=STATUSPAGE_STATUSES,
        status_map=STATUSPAGE_STATUS_MAP,
        impacts=IMPACTS,
        impact_map=IMPACT_MAP,
        raw_input_format="object",
        # name and body: "a maximum limit of 255 / 25000 characters"; neither `metadata` nor
        # the request as a whole has a documented limit: 64 KiB is ours.
        limits=Limits(
            "Statuspage",
            "https://developer.statuspage.io/#operation/postPagesPageIdIncidents",
            text_chars=(("body", 25_000),),
        ),
        # `page` (default 1) and `per_page` (default and most 100): a listing without them
        # is its first 100 only, since 2023-02-28 (https://community.atlassian.com/t5/
        # Statuspage-articles/Upcoming-changes-to-enforce-pagination-for-Statuspage-s/ba-p/2089947).
        paging=Paging(
            "https://developer.statuspage.io/#operation/getPagesPageIdIncidentsUnresolved"
        ),
    ),
    "simple": Preset(
        doc_url="",
        shape={
            "auth_scheme": "Bearer",
            "unresolved": "incidents?status_page_id={page_id}&status=open",
            "create": "incidents",
            "incident": "incidents/{id}",
            "component": "components/{component_id}",
            "component_method": "PATCH",
            "wrap": "",
            "component_wrap": "",
            "incidents": "incidents",
            "id": "id",
            "title": "title",
            "impact": "severity",
            "component_ids": "affected_component_ids",
            "component_statuses": "",
            "raw_input": "raw_input",
            "marker": "metadata.incident_adapter",  # its own field, not the writer's input
            "status": "status",
            "page_id": "status_page_id",
            "draft": "draft",
        },
        statuses=STATUSPAGE_STATUSES,
        status_map=STATUSPAGE_STATUS_MAP,
        impacts=IMPACTS,
        impact_map=IMPACT_MAP,
        raw_input_format="object",
        marker_fallback="raw_input.incident_adapter",  # incidents opened before still close
        limits=Limits("the status-page API", NOT_DOCUMENTED),
    ),
    # PageCalm: drafts for its AI incident writer; POST {url}/api/v1/incidents. No listing
    # or resolve is documented, so none is used (see docs/how-to/pagecalm.md), and no component
    # call: PageCalm updates components when a person publishes the draft.
    "pagecalm": Preset(
        doc_url="https://pagecalm.com/docs",
        shape={
            "auth_scheme": "Bearer",
            **NO_LISTING,
            "create": "api/v1/incidents",
            "component": "",
            "component_method": "PATCH",
            "wrap": "",
            "component_wrap": "",
            "title": "title",
            "impact": "severity",
            "component_ids": "affected_component_ids",
            "component_statuses": "",
            "raw_input": "raw_input",
            "status": "status",
            "page_id": "status_page_id",
            "draft": "",
        },
        statuses=STATUSPAGE_STATUSES,
        status_map=STATUSPAGE_STATUS_MAP,
        impacts=("minor", "major", "critical"),
        impact_map={"critical": "critical", "error": "major", "warning": "minor", "info": "minor"},
        raw_input_format="text",
        create_fields={"generate_ai_update": True, "tone": "professional"},
        choices={
            "generate_ai_update": (True, False),
            "tone": ("professional", "friendly", "minimal"),
        },
        always_draft=True,
        # pagecalm.com/docs names no sizes: a 255-character title and a 64 KiB create are ours.
        limits=Limits("PageCalm", NOT_DOCUMENTED),
    ),
    # Alert24 service status: PUT {url}/services/{id} {"status": ...}; no incident of its own
    # (an Alert24 incident comes from the incidents API: see docs/how-to/alert24-status-page.md).
    "alert24-status": Preset(
        doc_url="https://alert24.net/docs/status-webhook-curl",
        shape={
            "auth_scheme": "Bearer",
            **NO_LISTING,
            "create": "",
            "component": "services/{component_id}",
            "component_method": "PUT",
            "wrap": "",
            "component_wrap": "",
            "title": "",
            "impact": "",
            "component_ids": "",
            "component_statuses": "",
            "raw_input": "",
            "status": "status",
            "page_id": "",
            "draft": "",
        },
        statuses=("operational", "degraded", "down"),  # and "maintenance": set by people
        # Only critical says "unavailable"; error, like warning, is "partially impaired".
        status_map={
            "critical": "down",
            "error": "degraded",
            "warning": "degraded",
            "info": "degraded",
        },
        impacts=(),
        impact_map={},
        raw_input_format="object",
        # Only {"status": ...} is sent (https://alert24.net/docs/api-services: no sizes).
        limits=Limits("the Alert24 services API", NOT_DOCUMENTED),
    ),
}

PATHS = ("unresolved", "create", "incident", "component", "component_method")
FIELDS = tuple(n for n in PRESETS["simple"].shape if n not in (*PATHS, "auth_scheme"))
