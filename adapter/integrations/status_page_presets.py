"""Status-page presets: where each vendor's API wants things. Data, not flow.

adapter/integrations/status_page.py is the flow (list, create, resolve, set the component);
a `flavor` names one of these presets, and a receiver's `paths:` and `fields:` override it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    """Where an API wants things: paths relative to `url`, dotted field paths ("" = none)."""

    auth_scheme: str
    unresolved: str  # GET the open incidents; may hold {page_id}
    create: str  # POST an incident
    incident: str  # PATCH an incident (to resolve it); holds {id}
    component: str  # PATCH a component's status; holds {component_id}; "" = no such call
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
    draft: str  # true unless `publish`; "" = the API has no drafts


PATHS = ("unresolved", "create", "incident", "component")
PRESETS: dict[str, dict[str, str]] = {
    "statuspage": {  # https://developer.statuspage.io/
        "auth_scheme": "OAuth",
        "unresolved": "incidents/unresolved",
        "create": "incidents",
        "incident": "incidents/{id}",
        "component": "components/{component_id}",
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
        "draft": "",
    },
    "simple": {
        "auth_scheme": "Bearer",
        "unresolved": "incidents?status_page_id={page_id}&status=open",
        "create": "incidents",
        "incident": "incidents/{id}",
        "component": "components/{component_id}",
        "wrap": "",
        "component_wrap": "",
        "incidents": "incidents",
        "id": "id",
        "title": "title",
        "impact": "severity",
        "component_ids": "affected_component_ids",
        "component_statuses": "",
        "raw_input": "raw_input",
        "marker": "raw_input.incident_adapter",
        "status": "status",
        "page_id": "status_page_id",
        "draft": "draft",
    },
}

FIELDS = tuple(n for n in PRESETS["simple"] if n not in (*PATHS, "auth_scheme"))
