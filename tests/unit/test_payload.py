from __future__ import annotations

import json

import pytest

from adapter.payload import PayloadError, fingerprint, parse_payload
from tests.builders import make_alert, make_payload


def reason(body: bytes) -> tuple[int, str]:
    with pytest.raises(PayloadError) as info:
        parse_payload(body)
    return info.value.status, info.value.reason


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "malformed JSON"),
        (b"[]", 400, "JSON object"),
        (b'"x"', 400, "JSON object"),
        (json.dumps(make_payload(version="5")).encode(), 400, "unknown payload version '5'"),
        (b"{}", 422, "version: Field required"),
        (json.dumps({**make_payload(), "alerts": "x"}).encode(), 422, "alerts:"),
        (
            json.dumps(make_payload({**make_alert(), "status": "burning"})).encode(),
            422,
            "alerts[0].status",
        ),
        (
            json.dumps(make_payload({**make_alert(), "labels": {"a": 1}})).encode(),
            422,
            "alerts[0].labels.a",
        ),
    ],
)
def test_bad_bodies_say_which_status_and_field(body: bytes, status: int, words: str) -> None:
    got_status, got_reason = reason(body)
    assert got_status == status
    assert words in got_reason


def test_grafana_version_1_with_extra_fields_is_accepted() -> None:
    alert = {
        **make_alert(),
        "values": {"A": 1.0},
        "valueString": "x",
        "dashboardURL": "",
        "silenceURL": "",
    }
    payload = parse_payload(
        json.dumps({**make_payload(alert), "version": "1", "orgId": 1, "title": "t"}).encode()
    )
    assert payload.version == "1" and len(payload.alerts) == 1


def test_missing_fingerprint_is_recomputed_bit_exactly() -> None:
    labels = {
        "alertname": "HighErrorRate",
        "instance": "api-01",
        "service": "api",
        "severity": "critical",
    }
    alert = {"status": "firing", "labels": labels}
    payload = parse_payload(json.dumps(make_payload(alert)).encode())
    assert payload.alerts[0].fingerprint == "1d5a81814add1ad0" == fingerprint(labels)


def test_what_real_senders_leave_null_is_accepted_and_other_nulls_name_their_field() -> None:
    """No real sender puts null where the adapter reads: Alertmanager 0.25-0.34 makes every
    label map (template.Data: KV{} and make(KV)), groupKey, generatorURL and truncatedAlerts
    (uint64) non-nil; Grafana's webhook builds its maps from those and sends truncatedAlerts
    as an int. What Grafana does leave null (`values`, a nil Go map, with no alert values) is
    a field the adapter does not read. Anything else null is a broken sender: 422, named."""
    grafana = {**make_alert(), "values": None, "valueString": "", "silenceURL": ""}
    payload = {**make_payload(grafana), "version": "1", "routeLabels": None, "orgId": 1}
    assert len(parse_payload(json.dumps(payload).encode()).alerts) == 1
    for where, doc in [
        ("alerts[0].annotations", make_payload({**make_alert(), "annotations": None})),
        ("alerts[0].generatorURL", make_payload({**make_alert(), "generatorURL": None})),
        ("groupLabels", {**make_payload(), "groupLabels": None}),
        ("truncatedAlerts", {**make_payload(), "truncatedAlerts": None}),
    ]:
        status, said = reason(json.dumps(doc).encode())
        assert status == 422 and said.startswith(where), said
