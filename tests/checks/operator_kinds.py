"""JSON schemas of the prometheus-operator kinds the Helm chart renders, for offline checks.

kubernetes-validate knows only core kinds. These cover the fields the chart uses, with the
types, patterns and enums of the operator's CRDs (monitoring.coreos.com/v1), and refuse any
other field, so a misspelt or misplaced one fails as the API server's structural schema would.
"""

from __future__ import annotations

from typing import Any


def _obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_STR: dict[str, Any] = {"type": "string"}
# the CRDs' Duration type
_DURATION: dict[str, Any] = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}
_LABELS: dict[str, Any] = {"type": "object", "additionalProperties": _STR}
_METADATA = _obj(
    ("name", "namespace"), name=_STR, namespace=_STR, labels=_LABELS, annotations=_LABELS
)
_SELECTOR = _obj(matchLabels=_LABELS)
_NAMESPACE_SELECTOR = _obj(matchNames={"type": "array", "items": _STR}, any={"type": "boolean"})
_ACTIONS = [
    spelling
    for action in (
        "Replace",
        "Keep",
        "Drop",
        "HashMod",
        "LabelMap",
        "LabelDrop",
        "LabelKeep",
        "Lowercase",
        "Uppercase",
        "KeepEqual",
        "DropEqual",
    )
    for spelling in (action, action.lower())
]
_RELABELINGS: dict[str, Any] = {
    "type": "array",
    "items": _obj(
        sourceLabels={
            "type": "array",
            "items": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
        },
        separator=_STR,
        targetLabel=_STR,
        regex=_STR,
        modulus={"type": "integer", "minimum": 0},
        replacement=_STR,
        action={"enum": _ACTIONS},
    ),
}
# SafeAuthorization: a header from a Secret key in the monitor's namespace; "Basic" is refused
_AUTHORIZATION = _obj(
    ("credentials",),
    type={"type": "string", "not": {"pattern": "^(?i:basic)$"}},
    credentials=_obj(("key",), name=_STR, key=_STR, optional={"type": "boolean"}),
)
_ENDPOINT = _obj(
    ("port",),
    port=_STR,
    path=_STR,
    scheme={"enum": ["http", "https"]},
    interval=_DURATION,
    scrapeTimeout=_DURATION,
    honorLabels={"type": "boolean"},
    relabelings=_RELABELINGS,
    metricRelabelings=_RELABELINGS,
    authorization=_AUTHORIZATION,
)


def _kind(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _obj(
        ("apiVersion", "kind", "metadata", "spec"),
        apiVersion={"const": "monitoring.coreos.com/v1"},
        kind={"const": kind},
        metadata=_METADATA,
        spec=spec,
    )


SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": _kind(
        "ServiceMonitor",
        _obj(
            ("selector", "endpoints"),
            selector=_SELECTOR,
            namespaceSelector=_NAMESPACE_SELECTOR,
            jobLabel=_STR,
            endpoints={"type": "array", "minItems": 1, "items": _ENDPOINT},
        ),
    ),
    "PodMonitor": _kind(
        "PodMonitor",
        _obj(
            ("selector", "podMetricsEndpoints"),
            selector=_SELECTOR,
            namespaceSelector=_NAMESPACE_SELECTOR,
            jobLabel=_STR,
            podMetricsEndpoints={"type": "array", "minItems": 1, "items": _ENDPOINT},
        ),
    ),
    "PrometheusRule": _kind(
        "PrometheusRule",
        _obj(
            ("groups",),
            groups={
                "type": "array",
                "items": _obj(
                    ("name", "rules"),
                    name=_STR,
                    interval=_DURATION,
                    rules={
                        "type": "array",
                        "items": _obj(
                            ("expr",),
                            alert=_STR,
                            record=_STR,
                            expr=_STR,
                            **{"for": _DURATION},
                            labels=_LABELS,
                            annotations=_LABELS,
                        ),
                    },
                ),
            },
        ),
    ),
}
