"""The delivery memo: per receiver, bounded in entries and bytes, expired by memo_ttl."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from adapter.config.receivers import DeliverySettings
from adapter.events import UpstreamRequest
from adapter.memo import ENTRY_BYTES, SWEEP_EVERY, DeliveryMemo
from tests.builders import (
    ROUTING_KEY,
    TOKEN,
    alias_config,
    amwebhook_config,
    make_alert,
    make_payload,
    pd_config,
    template_config,
)

TRIGGER = UpstreamRequest("POST", "u", {}, b'{"event_action": "trigger"}')
RESOLVE = UpstreamRequest("POST", "u", {}, b'{"event_action": "resolve"}')


def bounds(ttl: str = "10s", entries: int = 20_000, max_bytes: int = 8 << 20) -> DeliverySettings:
    return DeliverySettings(memo_ttl=ttl, memo_max_entries=entries, memo_max_bytes=max_bytes)


def test_memo_skips_only_an_identical_latest_delivery() -> None:
    memo = DeliveryMemo()
    two = bounds(entries=2)
    memo.record("r", "k", TRIGGER, now=0, bounds=two)
    assert memo.delivered("r", "k", TRIGGER, now=5)
    assert not memo.delivered("r", "k", TRIGGER, now=11)  # expired
    assert not memo.delivered("other", "k", TRIGGER, now=5)
    memo.record("r", "k", RESOLVE, now=6, bounds=two)
    assert not memo.delivered("r", "k", TRIGGER, now=7)  # flapped: trigger again is sent
    memo.record("r", "a", TRIGGER, now=7, bounds=two)
    memo.record("r", "b", TRIGGER, now=7, bounds=two)
    assert not memo.delivered("r", "k", RESOLVE, now=7)  # bounded: the oldest went first


def test_a_flood_stays_within_the_bound_and_leaves_other_receivers_alone() -> None:
    """A's flood evicts A's oldest entries only; B's stay, and A's size keeps its bound."""
    memo = DeliveryMemo()
    long_ttl = bounds(ttl="5h", entries=1_000)
    for n in range(50):
        memo.record("drafts", f"draft-{n}", TRIGGER, now=0, bounds=long_ttl)
    for n in range(5_000):
        memo.record("flood", f"{n:016x}", TRIGGER, now=1, bounds=long_ttl)
    entries, size = memo.size("flood")
    assert entries == 1_000 and size == 1_000 * (ENTRY_BYTES + 16)
    assert memo.delivered("flood", f"{4_999:016x}", TRIGGER, now=2)
    assert not memo.delivered("flood", f"{0:016x}", TRIGGER, now=2)  # its own oldest went
    assert memo.size("drafts")[0] == 50
    assert all(memo.delivered("drafts", f"draft-{n}", TRIGGER, now=2) for n in range(50))


def test_the_bound_in_bytes_holds_for_long_keys() -> None:
    memo = DeliveryMemo()
    small = bounds(entries=1_000_000, max_bytes=64 * 1024)
    for n in range(2_000):
        memo.record("alias", f"{n:0512d}", TRIGGER, now=0, bounds=small)
    entries, size = memo.size("alias")
    assert size <= 64 * 1024
    assert entries == 64 * 1024 // (ENTRY_BYTES + 512)


def test_expired_entries_are_dropped_not_kept_until_evicted() -> None:
    memo = DeliveryMemo()
    short = bounds(ttl="10s")
    for n in range(100):
        memo.record("a", f"old-{n}", TRIGGER, now=0, bounds=short)
        memo.record("idle", f"old-{n}", TRIGGER, now=0, bounds=short)
    memo.record("a", "new", TRIGGER, now=11, bounds=short)
    assert memo.size("a")[0] == 1  # its own delivery dropped what expired
    assert memo.size("idle")[0] == 100  # nobody posted to it yet
    memo.record("a", "newer", TRIGGER, now=11 + SWEEP_EVERY, bounds=short)
    assert memo.size("idle") == (0, 0)  # the sweep dropped them, and the receiver
    assert memo.size("a")[0] == 1  # "new" expired too


def test_a_flood_on_one_receiver_keeps_anothers_drafts_from_being_sent_twice(
    make_client: Callable[..., TestClient],
) -> None:
    """Through the app: PageCalm-like receiver `drafts` (memo_ttl 5h) delivers, a flood on
    `flood` passes its bound, and Alertmanager's re-post to `drafts` sends nothing again."""
    sent: dict[str, int] = {"drafts": 0, "flood": 0}

    def upstream(request: httpx.Request) -> httpx.Response:
        sent[request.url.path.strip("/")] += 1
        return httpx.Response(202, json={"status": "success"})

    def receiver(name: str, **delivery: Any) -> dict[str, Any]:
        return {
            "name": name,
            "type": "events-v2",
            "url": f"http://upstream.test/{name}",
            "routing_key": ROUTING_KEY,
            "rate_limit": "off",
            "delivery": delivery,
        }

    doc = {
        "auth": {"bearer_tokens": [TOKEN]},
        "receivers": [
            receiver("drafts", memo_ttl="5h"),
            receiver("flood", memo_max_entries=100),
        ],
    }
    client = make_client(upstream, doc)
    drafts = make_payload(*(make_alert(instance=f"d{n}") for n in range(20)), receiver="drafts")
    assert client.post("/alerts/drafts", json=drafts).status_code == 200
    for batch in range(3):
        flood = [make_alert(instance=f"f{batch}-{n}") for n in range(200)]
        response = client.post("/alerts/flood", json=make_payload(*flood, receiver="flood"))
        assert response.status_code == 200
    assert sent == {"drafts": 20, "flood": 600}
    again = client.post("/alerts/drafts", json=drafts).json()
    assert again["skipped"] == 20 and sent["drafts"] == 20
    # The flood's own oldest went: its first batch is sent again, its last one is not.
    first = make_payload(*(make_alert(instance=f"f0-{n}") for n in range(200)), receiver="flood")
    assert client.post("/alerts/flood", json=first).json()["delivered"] == 200


LINKED = {  # the template dialect's body naming Alertmanager, as a user's template may
    "method": "POST",
    "path": "/api/incidents",
    "body": '{"key": {{ dedup_key | tojson }}, "am": {{ external_url | tojson }},'
    ' "title": {{ alert.annotations.summary | tojson }},'
    ' "from": {{ ("sent from " ~ external_url) | tojson }}}',
}


@pytest.mark.parametrize(
    "doc",
    [
        pd_config(),  # payload.source is the host, client_url the link
        alias_config(),  # source is the host
        amwebhook_config(),  # externalURL as is
        template_config(trigger=LINKED),
    ],
    ids=["events-v2", "alias", "alertmanager-webhook", "template"],
)
def test_an_ha_pair_s_two_notifications_of_one_alert_go_once(
    make_client: Callable[..., TestClient], doc: dict[str, Any]
) -> None:
    """The members of an Alertmanager cluster each notify with their own externalURL; the
    second notification of the same alerts is skipped, though its body names the other
    member. Anything else that changed (an annotation) still goes."""
    bodies: list[bytes] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(202, json={"status": "success", "requestId": "r"})

    client = make_client(upstream, doc)
    alerts = [make_alert(instance=f"i{n}") for n in range(3)]
    first = make_payload(*alerts, externalURL="http://alertmanager-0.am:9093")
    second = make_payload(*alerts, externalURL="http://alertmanager-1.am:9093/")
    assert client.post("/alerts/pd", json=first).json()["delivered"] == 3
    assert b"alertmanager-0.am:9093" in bodies[0]  # the body does name the sender
    assert client.post("/alerts/pd", json=second).json()["skipped"] == 3
    assert len(bodies) == 3
    changed = [make_alert(annotations={"summary": "now worse"}, instance="i0")]
    again = make_payload(*changed, externalURL="http://alertmanager-1.am:9093/")
    assert client.post("/alerts/pd", json=again).json()["delivered"] == 1
