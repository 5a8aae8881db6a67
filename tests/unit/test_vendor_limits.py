"""Every system's bodies within every vendor limit (tests/standins/vendor_limits.py), whatever comes:
each dialect, and each flavor with limits of its own (events-v2: pagerduty, alert24; status-page:
statuspage, simple, pagecalm, alert24-status)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from adapter.config.document import Config
from adapter.fitting import cut_bytes, cut_chars, fit
from adapter.limits import Items, SizeLimits, Text, Total, units
from adapter.payload import fingerprint, parse_payload
from adapter.pipeline import Receiver, plan
from tests.builders import (
    ALERT24_KEY,
    COMPONENTS,
    HOOK_TOKEN,
    OPSGENIE_KEY,
    PAGE,
    alert24_config,
    alert24_events_config,
    alias_config,
    amwebhook_config,
    make_alert,
    make_payload,
    pd_config,
    status_page_config,
    template_config,
)
from tests.builders import STATUS_PAGE_KEY as PAGE_KEY
from tests.builders import status_page_standin as fake
from tests.standins.alert24 import IncidentsAPI
from tests.standins.amwebhook import InboundAlertmanager
from tests.standins.events import AlertsAPI
from tests.standins.pagecalm import Alert24StatusAPI, PageCalmAPI
from tests.standins.statuspage import SimpleAPI
from tests.standins.vendor_limits import (
    FIRE,
    KEYS,
    LIMITS,
    NOTE,
    ODD,
    ROUTES,
    Odd,
    at,
    mark,
    violations,
)

TEMPLATE = {
    "trigger": {
        "path": "/api/incidents",
        "body": '{"key": {{ dedup_key | tojson }}, "title": {{ alert.annotations.summary | tojson }},'
        ' "description": {{ alert.annotations.description | tojson }},'
        ' "details": {{ alert.labels | tojson }}}',
    },
    "max_body_bytes": 65_536,
    "truncated_field": "details.truncated",
}


FINGERPRINT = {"dedup_key": {"strategy": "fingerprint"}}


def configs() -> dict[str, dict[str, Any]]:
    """One receiver for every system in the table (a new one fails here until it is added)."""
    return {
        "events-v2": pd_config(),
        "events-v2/alert24": alert24_events_config(),
        "alias": alias_config(),
        "alert24": alert24_config(**FINGERPRINT),
        "status-page": status_page_config(),
        "status-page/simple": status_page_config("simple"),
        "status-page/pagecalm": status_page_config("pagecalm"),
        "status-page/alert24-status": status_page_config(
            "alert24-status", matchers=[], components=COMPONENTS
        ),
        "template": template_config(**TEMPLATE),
        "alertmanager-webhook": amwebhook_config(),
    }


def test_every_system_in_the_table_is_configured() -> None:
    assert set(configs()) == set(LIMITS)


def handler(system: str, sent: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    """The stateful stand-in where there is one (it refuses what the vendor refuses)."""
    inner: Callable[[httpx.Request], httpx.Response]
    components = list(COMPONENTS.values())
    if system == "alias":
        inner = AlertsAPI(OPSGENIE_KEY)
    elif system == "alert24":
        inner = IncidentsAPI(ALERT24_KEY)
    elif system == "alertmanager-webhook":
        inner = InboundAlertmanager(bearer=HOOK_TOKEN)
    elif system == "status-page":
        inner = fake("statuspage")
    elif system == "status-page/simple":
        inner = SimpleAPI(PAGE_KEY, PAGE, components)
    elif system == "status-page/pagecalm":
        inner = PageCalmAPI(PAGE_KEY, PAGE, components)
    elif system == "status-page/alert24-status":
        inner = Alert24StatusAPI(PAGE_KEY, components)
    else:
        dialect = system

        def inner(request: httpx.Request) -> httpx.Response:
            problems = violations(dialect, request.content) if request.content else []
            return httpx.Response(400 if problems else 202, json={"errors": problems})

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return inner(request)

    return handle


# What a resolve comes to: PageCalm offers no way to find the draft again (docs/pagecalm.md).
RESOLVED = {"status-page/pagecalm": "filtered"}


@pytest.mark.parametrize("system", LIMITS)
@pytest.mark.parametrize("odd", ODD, ids=lambda o: o.name)
def test_odd_payloads_fit_every_limit(
    system: str, odd: Odd, make_client: Callable[..., TestClient]
) -> None:
    """Fired and resolved, each body within the vendor's limits, cuts marked, what routes
    and pages (the key, severity, components, ...) whole."""
    sent: list[httpx.Request] = []
    client = make_client(handler(system, sent), configs()[system])
    for status in ("firing", "resolved"):
        alert = make_alert(status, annotations=odd.annotations, **odd.labels)
        response = client.post("/alerts/pd", json=make_payload(alert))
        assert response.status_code == 200, response.json()
        result = "delivered" if status == "firing" else RESOLVED.get(system, "delivered")
        assert [a["result"] for a in response.json()["alerts"]] == [result]
    creates = [r for r in sent if r.method in ("POST", "PUT") and r.content][:1]
    assert creates, [r.url for r in sent]
    for request in sent:
        if request.content:
            assert violations(system, request.content) == []
    [create] = creates
    note = mark(system, create.content)
    if system in odd.cut:
        assert note and NOTE in note, note
    else:
        assert note is None, note
    body = json.loads(create.content)
    if KEYS[system] is not None:
        assert at(body, KEYS[system]) == [fingerprint(odd.labels)]  # never cut
    for path in ROUTES[system]:
        [value] = at(body, path)
        assert "…" not in json.dumps(value, ensure_ascii=False), (path, value)


def test_a_text_raw_input_keeps_its_first_lines_and_links_and_gives_up_its_description(
    make_client: Callable[..., TestClient],
) -> None:
    """PageCalm's writer gets what fired, where, how bad, since when, and where to look; the
    600 KB description in the middle is what gives way, and the last line says so."""
    sent: list[httpx.Request] = []
    system = "status-page/pagecalm"
    client = make_client(handler(system, sent), configs()[system])
    annotations = {
        "summary": "Checkout fails",
        "description": "Traceback\n" + "  frame\n" * 80_000,
        "runbook_url": "https://runbooks.example/checkout",
    }
    alert = make_alert(annotations=annotations, instance="api-01", **{"service": "api"})
    assert client.post("/alerts/pd", json=make_payload(alert)).status_code == 200
    lines = json.loads(sent[0].content)["raw_input"].split("\n")
    assert lines[0].startswith("HighErrorRate is firing on service api, instance api-01")
    assert lines[1] == "Summary: Checkout fails" and lines[2] == "Details: Traceback"
    assert "Runbook: https://runbooks.example/checkout" in lines[-5:]
    assert any(line.startswith("Graph: http") for line in lines[-5:])
    assert lines[-2].startswith("Labels: ")
    assert lines[-1].startswith("… (cut to fit PageCalm's limits") and "description (" in lines[-1]
    assert len(sent[0].content) <= 65_536


def test_the_alert24_description_is_cut_in_its_middle_with_the_note_last(
    make_client: Callable[..., TestClient],
) -> None:
    sent: list[httpx.Request] = []
    client = make_client(handler("alert24", sent), configs()["alert24"])
    alert = make_alert(
        annotations={"description": "start " + "x" * 50_000 + " end", "runbook_url": "https://rb"}
    )
    assert client.post("/alerts/pd", json=make_payload(alert)).status_code == 200
    description = json.loads(sent[0].content)["description"]
    text, _, note = description.rpartition("\n")
    assert text.startswith("start xxx") and text.endswith("end\n\nRunbook: https://rb")
    assert note.startswith("… (cut to fit the Alert24 incident API's limits") and NOTE in note
    assert "description (50,031 characters)" in note  # with its runbook line


def test_cut_named_with_original_sizes(make_client: Callable[..., TestClient]) -> None:
    """The note names each cut part and its size, so a responder knows what to look up."""
    sent: list[httpx.Request] = []
    client = make_client(handler("events-v2", sent), pd_config())
    description = "x" * 600_000
    alert = make_alert(annotations={"summary": "s" * 2000, "description": description})
    assert client.post("/alerts/pd", json=make_payload(alert)).status_code == 200
    payload = json.loads(sent[0].content)["payload"]
    note = payload["custom_details"]["truncated"]
    assert "payload.summary (2,000 characters)" in note
    assert "annotations.description (600,000 bytes)" in note
    assert payload["summary"] == "s" * 1023 + "…"
    kept = payload["custom_details"]["annotations"]["description"]
    assert kept.startswith("xxx") and kept.endswith("…") and len(kept) > 400_000


# -- the mechanism on its own --------------------------------------------------------------

TEST_LIMITS = SizeLimits(
    vendor="Test",
    doc_url="",
    body_bytes=2000,
    fields=(Text("title", 10), Items("tags", 2, 4), Total("details", 200)),
    cut_first=("details",),
    keep=frozenset({"key"}),
    mark="details.truncated",
)


def test_a_body_within_its_limits_is_left_alone() -> None:
    body = {"key": "k" * 50, "title": "short", "tags": ["a", "b"], "details": {"x": "y"}}
    assert fit(body, TEST_LIMITS) == json.dumps(body, separators=(",", ":")).encode()


def test_keys_and_protected_values_are_never_cut() -> None:
    body = {"key": "k" * 800, "secret": "s" * 300, "other": "o" * 3000, "details": {}}
    out = json.loads(fit(body, TEST_LIMITS, protected=("s" * 300,)))
    assert out["key"] == "k" * 800 and out["secret"] == "s" * 300
    assert out["other"].endswith("…") and "other" in out["details"]["truncated"]


def test_characters_are_counted_as_utf16_units() -> None:
    assert units(FIRE) == 2 and units("é") == 1
    assert cut_chars(FIRE * 10, 10) == FIRE * 4 + "…"
    assert cut_chars("abcdefghijk", 5, middle=True) == "ab…jk"
    assert len(cut_bytes("\x01" * 100, 40).encode()) <= 40  # escapes count: \u0001 is 6


def test_items_and_totals() -> None:
    body = {"tags": ["abcdefg", "abcdefz", "c"], "details": {f"k{i}": "v" * 50 for i in range(9)}}
    out = json.loads(fit(body, TEST_LIMITS))
    assert out["tags"] == ["abc…", "c"]  # cut; the same twice is kept once; 2 items at most
    assert units(json.dumps(out["details"], ensure_ascii=False, separators=(",", ":"))) <= 200 + 40


def test_a_body_only_its_keys_overflow_is_refused_by_name() -> None:
    from adapter.fitting import CannotFit

    with pytest.raises(CannotFit, match="over Test's 2,000"):
        fit({"key": "k" * 5000}, TEST_LIMITS)


def test_a_stage_that_names_a_string_cuts_that_string_first() -> None:
    limits = SizeLimits("Test", "", body_bytes=3000, cut_first=("raw.description",), mark="raw.cut")
    body = {"raw": {"description": "d" * 5000, "summary": "s" * 2000}}
    out = json.loads(fit(body, limits))
    assert out["raw"]["summary"] == "s" * 2000  # untouched: the description gave way
    assert out["raw"]["description"].endswith("…") and "description" in out["raw"]["cut"]


def test_the_note_goes_on_a_texts_last_line_within_its_limit() -> None:
    limits = SizeLimits(
        "Test",
        "",
        fields=(Text("title", 10), Text("text", 900, middle=True)),
        mark="text",
        mark_line=True,
    )
    out = json.loads(fit({"title": "t" * 50, "text": "head " + "x" * 890 + " tail"}, limits))
    text, _, note = out["text"].rpartition("\n")
    assert text.startswith("head") and text.endswith("tail") and units(out["text"]) <= 900
    assert note.startswith("… (cut to fit Test's limits") and "title (50 characters)" in note


def test_a_text_in_the_notes_way_is_never_replaced() -> None:
    limits = SizeLimits("Test", "", fields=(Text("title", 10),), mark="raw.truncated")
    out = json.loads(fit({"title": "t" * 50, "raw": "what fired, where, how bad"}, limits))
    assert out["raw"].startswith("what fired, where, how bad\n… (cut to fit Test's limits")


# -- property: no generated alert yields an over-limit body ------------------------------

RECEIVERS = {
    system: Receiver.from_settings(
        (cfg := Config(**{k: v for k, v in doc.items() if k != "auth"})).receivers[0],
        cfg.delivery,
    )
    for system, doc in configs().items()
}

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=50) | st.builds(
    lambda c, n: c * n, st.sampled_from(["x", "é", FIRE, "\x00", '"']), st.integers(0, 300_000)
)
label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,40}", fullmatch=True)


@st.composite
def alerts(draw: st.DrawFn) -> dict[str, Any]:
    labels = draw(st.dictionaries(label_names, text, max_size=45))
    labels.update(alertname=draw(text) or "A", service="api")
    annotations = draw(
        st.dictionaries(st.sampled_from(["summary", "description", "runbook_url", "x"]), text)
    )
    return make_alert(draw(st.sampled_from(["firing", "resolved"])), annotations, **labels)


def requests_of(system: str, payload: dict[str, Any]) -> list[bytes]:
    """Every body the receiver would send, following a chain (a listing: no incident open)."""
    out = []
    receiver = RECEIVERS[system]
    for delivery in plan(receiver, parse_payload(json.dumps(payload).encode())).deliveries:
        assert delivery.request is not None, delivery.error
        request: Any = delivery.request
        while request is not None:
            out.append(request.body)
            empty = receiver.integration.nothing_open
            request = request.then(empty) if request.then else None
    return out


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(alert=alerts(), system=st.sampled_from(sorted(LIMITS)))
def test_no_generated_alert_yields_an_over_limit_body(alert: dict[str, Any], system: str) -> None:
    for body in requests_of(system, make_payload(alert)):
        if body:
            assert violations(system, body) == []
