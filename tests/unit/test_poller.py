"""The poller over httpx's MockTransport: failover between Alertmanagers, failures counted,
each mute's event sent once through the receiver's real path."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client import CollectorRegistry

from adapter.delivery import Deliverer
from adapter.metrics import Metrics
from adapter.poller import Poller
from adapter.state import State
from adapter.transport import HttpxTransport
from tests.builders import (
    ALERT24_KEY,
    OPSGENIE_KEY,
    ROUTING_KEY,
    alert24_config,
    alert24_events_config,
    alias_config,
    amwebhook_config,
    api_alert,
    config_from,
    config_problems,
    pd_config,
    poller_config,
    silenced,
    template_config,
)
from tests.harness.process import wait_for
from tests.standins.alert24 import IncidentsAPI
from tests.standins.events import AlertsAPI, OpsAlert


class Fakes:
    """Two Alertmanagers (am0, am1) and the events API, behind one MockTransport."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.down: set[str] = set()
        self.asked: list[str] = []
        self.queries: list[str] = []  # the first parameter of each poll
        self.sent: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host.startswith("am"):
            self.asked.append(host)
            self.queries.append(request.url.query.decode().partition("&")[0])
            if host in self.down:
                raise httpx.ConnectError("refused", request=request)
            assert request.url.path == "/api/v2/alerts"
            assert request.url.params["silenced"] == "true"
            # Alertmanager anchors it: only alerts routed to the receivers served here
            assert request.url.params["receiver"] == "team"
            return httpx.Response(200, json=self.alerts)
        self.sent.append(json.loads(request.content))
        return httpx.Response(202, json={"status": "success"})

    def actions(self) -> list[tuple[str, str]]:
        return [(e["event_action"], e["dedup_key"]) for e in self.sent]


def polls(
    tmp_path: Path, fakes: Fakes, *steps: Any, config: dict[str, Any] | None = None
) -> tuple[list[bool], Metrics]:
    """Run one poll per step; a step is a callable that changes the fakes before it."""
    loaded = config_from(config or poller_config(), tmp_path)
    results: list[bool] = []
    metrics = Metrics(CollectorRegistry(), [r.name for r in loaded.receivers])

    async def go() -> None:
        transport = HttpxTransport(httpx.MockTransport(fakes))
        state = State(loaded, transport, metrics, None)
        state.deliverer = Deliverer(transport, metrics)
        poller = Poller(state, transport)
        for step in steps:
            step()
            results.append(await poller.poll_once())
        await transport.aclose()

    asyncio.run(go())
    return results, metrics


def value(metrics: Metrics, name: str, **labels: str) -> float:
    got = metrics.registry.get_sample_value(f"incident_adapter_{name}", labels)
    return 0.0 if got is None else got


def test_mute_unmute_and_resolve_through_the_receiver(tmp_path: Path) -> None:
    """Acknowledge once per mute; unmuted: resolve then trigger; gone while muted: resolve."""
    fakes = Fakes()
    firing = api_alert("Down", receivers=("team",))
    muted = silenced("Down", receivers=("team",))

    def show(*alerts: dict[str, Any]) -> Any:
        return lambda: setattr(fakes, "alerts", list(alerts))

    results, metrics = polls(
        tmp_path, fakes, show(firing), show(muted), show(muted), show(firing), show(muted), show()
    )
    assert results == [True] * 6
    key = "fp-Down"
    assert fakes.actions() == [
        ("acknowledge", key),
        ("resolve", key),
        ("trigger", key),
        ("acknowledge", key),
        ("resolve", key),
    ]
    assert all(e["routing_key"] == ROUTING_KEY for e in fakes.sent)
    assert value(metrics, "mute_events_total", receiver="pd", action="acknowledge") == 2
    assert value(metrics, "alertmanager_polls_total", result="ok") == 6
    assert value(metrics, "muted_alerts", receiver="pd", reason="silenced") == 0


def test_the_alertmanager_url_s_credentials_never_reach_the_incident(tmp_path: Path) -> None:
    """The poller's events name the Alertmanager that answered (an unmute's trigger carries
    it as the client link and the source): by its scheme, host, port and path, never the
    userinfo or query its configured URL holds. The query still goes to Alertmanager."""
    fakes = Fakes()
    firing = api_alert("Down", receivers=("team",))
    muted = silenced("Down", receivers=("team",))
    config = poller_config(source_labels=[])
    config["alertmanager"]["urls"] = ["http://ops:pollpassword@am0:9093?token=polltoken123"]
    results, _ = polls(
        tmp_path,
        fakes,
        lambda: setattr(fakes, "alerts", [muted]),
        lambda: setattr(fakes, "alerts", [firing]),
        config=config,
    )
    assert results == [True, True]
    assert [a for a, _ in fakes.actions()] == ["acknowledge", "resolve", "trigger"]
    assert fakes.queries == ["token=polltoken123"] * 2
    sent = json.dumps(fakes.sent)
    assert "pollpassword" not in sent and "polltoken123" not in sent and "ops:" not in sent
    trigger = fakes.sent[-1]
    assert trigger["client_url"] == "http://am0:9093"
    assert trigger["payload"]["source"] == "am0:9093"


def test_the_muted_gauge_counts_what_the_last_poll_saw(tmp_path: Path) -> None:
    fakes = Fakes()
    fakes.alerts = [silenced("A", receivers=("team",)), silenced("B", receivers=("team",))]
    _, metrics = polls(tmp_path, fakes, lambda: None)
    assert value(metrics, "muted_alerts", receiver="pd", reason="silenced") == 2


def test_failover_to_the_next_url_and_back_only_when_needed(tmp_path: Path) -> None:
    """am0 down: am1 answers, and is asked first from then on; both down: a failed poll."""
    fakes = Fakes()

    def am0_down() -> None:
        fakes.down = {"am0"}

    def both_down() -> None:
        fakes.down = {"am0", "am1"}

    def all_up() -> None:
        fakes.down = set()

    results, metrics = polls(tmp_path, fakes, am0_down, all_up, both_down, all_up)
    assert results == [True, True, False, True]
    assert fakes.asked == ["am0", "am1", "am1", "am1", "am0", "am1"]
    assert value(metrics, "alertmanager_polls_total", result="failed") == 1
    assert value(metrics, "alertmanager_polls_total", result="ok") == 3


def test_a_failed_poll_decides_nothing(tmp_path: Path) -> None:
    """No answer is not 'every alert gone': the acknowledged incident is not resolved."""
    fakes = Fakes()
    fakes.alerts = [silenced("Down", receivers=("team",))]

    def both_down() -> None:
        fakes.down = {"am0", "am1"}

    results, _ = polls(tmp_path, fakes, lambda: None, both_down)
    assert results == [True, False]
    assert fakes.actions() == [("acknowledge", "fp-Down")]


def test_a_failed_event_is_sent_again_on_the_next_poll(tmp_path: Path) -> None:
    """The upstream refuses for a while (503): the acknowledge is retried by the next poll,
    then sent no more."""
    fakes = Fakes()
    fakes.alerts = [silenced("Down", receivers=("team",))]
    answers = iter([503] * 8)

    def upstream(request: httpx.Request) -> httpx.Response:
        if request.url.host.startswith("am"):
            return fakes(request)
        fakes.sent.append(json.loads(request.content))
        return httpx.Response(next(answers, 202), json={})

    config = poller_config()
    config["delivery"]["max_attempts"] = 2
    results: list[bool] = []
    loaded = config_from(config, tmp_path)
    metrics = Metrics(CollectorRegistry(), ["pd"])

    async def go() -> None:
        transport = HttpxTransport(httpx.MockTransport(upstream))
        state = State(loaded, transport, metrics, None)
        state.deliverer = Deliverer(transport, metrics)
        poller = Poller(state, transport)
        for _ in range(6):
            results.append(await poller.poll_once())
        await transport.aclose()

    asyncio.run(go())
    # 2 attempts a poll: polls 1-4 fail (8 answers of 503), poll 5 delivers, poll 6 sends none
    assert len(fakes.sent) == 9
    assert value(metrics, "mute_events_total", receiver="pd", action="acknowledge") == 1


def test_keep_and_other_receivers_send_nothing(tmp_path: Path) -> None:
    fakes = Fakes()
    fakes.alerts = [silenced("Down", receivers=("other",))]
    polls(tmp_path, fakes, lambda: None)
    fakes.alerts = [silenced("Down", receivers=("team",))]
    polls(tmp_path, fakes, lambda: None, config=poller_config(on_silenced="keep"))
    assert fakes.sent == []


def test_an_answer_that_is_not_the_api_fails_over(tmp_path: Path) -> None:
    """A proxy's error page from am0 counts as no answer: am1 is asked."""
    fakes = Fakes()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "am0":
            fakes.asked.append("am0")
            return httpx.Response(200, text="<html>oops</html>")
        return fakes(request)

    loaded = config_from(poller_config(), tmp_path)
    metrics = Metrics(CollectorRegistry(), ["pd"])

    async def go() -> bool:
        transport = HttpxTransport(httpx.MockTransport(handler))
        state = State(loaded, transport, metrics, None)
        state.deliverer = Deliverer(transport, metrics)
        ok = await Poller(state, transport).poll_once()
        await transport.aclose()
        return ok

    assert asyncio.run(go()) is True
    assert fakes.asked == ["am0", "am1"]


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    """on_* without an alertmanager: block; acknowledge where the dialect has none; a group key."""
    problems = config_problems(tmp_path, pd_config(on_silenced="resolve"))
    assert any("receivers[0].on_silenced" in p and "alertmanager:" in p for p in problems)
    bad = template_config(on_inhibited="acknowledge")
    bad["alertmanager"] = poller_config()["alertmanager"]
    assert any("on_inhibited: acknowledge" in p for p in config_problems(tmp_path, bad))
    grouped = poller_config(dedup_key={"strategy": "group"})
    assert any("group key" in p for p in config_problems(tmp_path, grouped))
    assert config_from(poller_config(), tmp_path).alertmanager is not None


def run_with(
    tmp_path: Path, config: dict[str, Any], upstream: Any, *shown: list[dict[str, Any]]
) -> None:
    """One poll per entry of `shown` (the alerts Alertmanager lists), events to `upstream`."""
    fakes = Fakes()

    def handler(request: httpx.Request) -> httpx.Response:
        return fakes(request) if request.url.host.startswith("am") else upstream(request)

    config["alertmanager"] = poller_config()["alertmanager"]
    loaded = config_from(config, tmp_path)
    metrics = Metrics(CollectorRegistry(), ["pd"])

    async def go() -> None:
        transport = HttpxTransport(httpx.MockTransport(handler))
        state = State(loaded, transport, metrics, None)
        state.deliverer = Deliverer(transport, metrics)
        poller = Poller(state, transport)
        for alerts in shown:
            fakes.alerts = alerts
            assert await poller.poll_once()
        await transport.aclose()

    asyncio.run(go())


MUTE = {"alertmanager_receiver": "team", "on_silenced": "acknowledge"}
FIRING = [api_alert("Down", receivers=("team",), instance="i1")]
SILENCED = [silenced("Down", receivers=("team",), instance="i1")]


def test_opsgenie_acknowledges_by_alias_and_an_unmute_closes_and_creates(tmp_path: Path) -> None:
    """Silenced: POST /v2/alerts/{alias}/acknowledge?identifierType=alias; unmuted: close,
    then a create that opens it again; gone while muted: close."""
    api = AlertsAPI(OPSGENIE_KEY)
    states: list[tuple[str, bool]] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        answer = api(request)
        alert = api.alerts.get("fp-Down")
        states.append(
            (request.url.path.rpartition("/")[2], alert is not None and alert.acknowledged)
        )
        return answer

    api.alerts["fp-Down"] = OpsAlert("fp-Down", "Down now", "P3")  # opened by a webhook
    polls = (FIRING, SILENCED, SILENCED, FIRING, SILENCED, [])
    run_with(tmp_path, alias_config(**MUTE), upstream, *polls)
    assert states == [
        ("acknowledge", True),
        ("close", True),
        ("alerts", False),  # a new alert: open, not acknowledged
        ("acknowledge", True),
        ("close", True),
    ]
    assert api.open_aliases() == set()


def test_alert24_acknowledges_the_incidents_its_lookup_finds(tmp_path: Path) -> None:
    """Silenced: the resolve's lookup, then PUT {"status": "acknowledged"}; unmuted: resolved
    and a new incident; gone while muted: resolved."""
    api = IncidentsAPI(ALERT24_KEY)
    run_with(tmp_path, alert24_config(**MUTE), api, SILENCED, FIRING)
    (key,) = api.open_keys()  # the unmute's create: the incident the alert needs
    run_with(tmp_path, alert24_config(**MUTE), api, SILENCED)
    assert [i.status for i in api.of(key)] == ["acknowledged"]
    run_with(tmp_path, alert24_config(**MUTE), api, SILENCED, FIRING)
    assert [i.status for i in api.of(key)] == ["resolved", "open"]
    run_with(tmp_path, alert24_config(**MUTE), api, SILENCED, [])
    assert [i.status for i in api.of(key)] == ["resolved", "resolved"]


def test_acknowledge_is_a_config_error_where_the_dialect_has_none(tmp_path: Path) -> None:
    for config in (
        alert24_events_config(**MUTE),
        amwebhook_config(**MUTE),
        alert24_config(**MUTE, resolve={"by": "alias_path"}),
    ):
        config["alertmanager"] = poller_config()["alertmanager"]
        problems = config_problems(tmp_path, config)
        assert any("on_silenced: acknowledge" in p for p in problems), problems
    for config in (alias_config(**MUTE), alert24_config(**MUTE)):
        config["alertmanager"] = poller_config()["alertmanager"]
        assert config_from(config, tmp_path).receivers[0].on_silenced == "acknowledge"


def test_the_app_polls_once_a_reload_adds_the_block_and_the_page_lists_the_mutes(
    tmp_path: Path, make_client: Any
) -> None:
    """The lifespan runs the poller; without an alertmanager: block it asks nothing, a reload
    that adds one starts the polls, and the page at / lists the muted incident."""
    fakes = Fakes()
    fakes.alerts = [silenced("Down", receivers=("team",))]
    plain = poller_config()
    del plain["alertmanager"]
    plain["receivers"][0]["on_silenced"] = "keep"
    path = tmp_path / "config.yml"
    client = make_client(fakes, plain, config_path=str(path))
    time.sleep(1.5)
    assert fakes.asked == []
    path.write_text(yaml.safe_dump(poller_config()))
    assert client.post("/-/reload").status_code == 200
    wait_for(lambda: fakes.sent, 10, "the acknowledge")
    assert fakes.actions() == [("acknowledge", "fp-Down")]
    page = client.get("/").text
    assert "Muted in Alertmanager (1, at the last poll)" in page and "fp-Down" in page


def test_without_a_store_every_replica_polls_and_says_so(tmp_path: Path) -> None:
    """No `coordination:` block: no lease, this replica polls (poll_leader 1); the gauge is
    absent until an `alertmanager:` block is polled for."""
    loaded = config_from(poller_config(), tmp_path)
    metrics = Metrics(CollectorRegistry(), ["pd"])
    assert metrics.registry.get_sample_value("incident_adapter_alertmanager_poll_leader") is None

    async def go() -> bool:
        transport = HttpxTransport(httpx.MockTransport(Fakes()))
        state = State(loaded, transport, metrics, None)
        state.deliverer = Deliverer(transport, metrics)
        assert loaded.alertmanager is not None
        leads = await Poller(state, transport).leads(loaded.alertmanager)
        await transport.aclose()
        return leads

    assert asyncio.run(go()) is True
    assert value(metrics, "alertmanager_poll_leader") == 1.0
