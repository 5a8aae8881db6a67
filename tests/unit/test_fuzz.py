"""Hostile and broken input at the HTTP edge: only the adapter's own 2xx/4xx, never a 500."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.builders import fixture, pd_config

ALLOWED = {200, 400, 404, 413, 415, 422, 424}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """One adapter for the whole module: it must keep serving whatever came before."""
    from adapter.app import create_app
    from adapter.config.document import Config
    from adapter.transport import HttpxTransport

    doc = {k: v for k, v in pd_config(rate_limit="off").items() if k != "auth"}
    # Not a test of the deadline: a budget no busy machine runs out of on these bodies.
    doc["delivery"] = {"timeout": "60s", "attempt_timeout": "30s", "max_attempts": 4}
    config = Config(**doc)
    transport = HttpxTransport(httpx.MockTransport(lambda r: httpx.Response(202)))
    with TestClient(create_app(config, transport=transport), raise_server_exceptions=False) as c:
        yield c


def post(client: TestClient, body: bytes) -> int:
    response = client.post("/alerts/pd", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code in ALLOWED, (response.status_code, body[:200])
    assert isinstance(response.json(), dict)
    return response.status_code


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(value=json_values)
def test_random_json(client: TestClient, value: Any) -> None:
    post(client, json.dumps(value).encode())


@FUZZ
@given(body=st.binary(max_size=300))
def test_random_bytes(client: TestClient, body: bytes) -> None:
    post(client, body)


def _mutations() -> st.SearchStrategy[Any]:
    base = fixture("am025_mixed.json")
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(base, ())
    odd = st.sampled_from(
        ["", "\x00", "\u202e\ufeff", "é" * 1000, "x" * 100_000, "{{ 7*7 }}", "../../etc", "\ud7ff"]
    )
    replacement = json_values | odd | st.integers(min_value=-(2**70), max_value=2**70)

    @st.composite
    def mutate(draw: st.DrawFn) -> Any:
        doc = copy.deepcopy(base)
        for _ in range(draw(st.integers(1, 4))):
            path = draw(st.sampled_from(paths[1:]))
            parent = doc
            try:
                for part in path[:-1]:
                    parent = parent[part]
                parent[path[-1]] = draw(replacement)
            except (KeyError, IndexError, TypeError):
                continue
        return doc

    return mutate()


@FUZZ
@given(doc=_mutations())
def test_mutated_real_payloads(client: TestClient, doc: Any) -> None:
    post(client, json.dumps(doc).encode())


@FUZZ
@given(labels=st.dictionaries(st.text(min_size=0, max_size=30), st.text(max_size=30), max_size=10))
def test_odd_label_names_and_values(client: TestClient, labels: dict[str, str]) -> None:
    doc = fixture("am025_firing_one.json")
    doc["alerts"][0]["labels"] = labels
    doc["alerts"][0].pop("fingerprint", None)
    # No labels at all: that alert is refused alone (424), as Alertmanager refuses it.
    assert post(client, json.dumps(doc).encode()) in ({200, 422} if labels else {424})


def test_deep_nesting_duplicate_keys_and_thousands_of_alerts(client: TestClient) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    post(client, deep)
    nested_label = (
        b'{"version": "4", "alerts": [{"status": "firing", "labels": '
        + b'{"a":' * 5000
        + b"1"
        + b"}" * 5000
        + b"}]}"
    )
    post(client, nested_label)
    doc = fixture("am025_firing_one.json")
    duplicate = json.dumps(doc)[:-1] + ', "alerts": []}'
    assert post(client, duplicate.encode()) == 200  # the last key wins, as in Go's decoder
    alert = doc["alerts"][0]
    many = {
        **doc,
        "alerts": [
            {**alert, "labels": {**alert["labels"], "i": str(i)}, "fingerprint": ""}
            for i in range(5000)
        ],
    }
    # The contract, not a speed: 200, or 503 at the deadline with the rest delivered by the
    # re-posts Alertmanager makes (the memo skips what already went out).
    body = json.dumps(many).encode()
    for _ in range(20):
        response = client.post(
            "/alerts/pd", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (200, 503), response.status_code
        if response.status_code == 200:
            answer = response.json()
            assert answer["delivered"] + answer["skipped"] == 5000
            break
    else:
        pytest.fail("5,000 alerts were never all delivered")


def test_still_serving_after_all_that(client: TestClient) -> None:
    assert client.get("/-/ready").status_code == 200
    assert post(client, json.dumps(fixture("am025_firing_two.json")).encode()) == 200


def _corpus(seed: int, count: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    base = json.dumps(fixture("am025_mixed.json")).encode()
    for _ in range(count):
        body = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        yield bytes(body)


def test_memory_stays_flat_under_a_stream_of_broken_payloads(client: TestClient) -> None:
    """RSS after 3,000 more broken payloads stays within a few MB of RSS after the first 1,000."""

    def rss_kib() -> int:
        status = Path("/proc/self/status").read_text()
        return int(
            next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]
        )

    def send(body: bytes) -> int:
        headers = {"Content-Type": "application/json"}
        return client.post("/alerts/pd", content=body, headers=headers).status_code

    statuses = [send(b) for b in _corpus(1, 1000)]
    warm = rss_kib()
    statuses += [send(b) for b in _corpus(2, 3000)]
    grown = rss_kib() - warm
    assert set(statuses) <= ALLOWED
    assert grown < 8 * 1024, f"RSS grew {grown} KiB"
