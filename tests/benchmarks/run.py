"""The benchmark: the adapter as a real process against a fast stand-in upstream, beside a bare
forwarder as the reference, on this machine.

    python tests/benchmarks/run.py [--runs 3] [--duration 10] [--quick]
                                   [--out bench-results/report.json]
                                   [--scenarios S1,S2,S3,S4,S5,S6,S7]
                                   [--profile] [--profile-level warning|info]
                                   [--tracing] [--store]

`--store` runs the adapter with its shared store on (`coordination:`, adapter/coordination/):
a redis-server on the load core, beside the upstream; every ratio is still to the forwarder of
the same run, so a run with and one without show what the store costs (issue 22: S1 >= 0.7x).

Scenarios (each run measures every server in turn: S4, S1 and S2 on one fresh process, S3 and S5
on another, so that S3's 5,000 alerts do not weigh on S1; S6 and S7 each on its own):
    S1  one-alert webhooks, 16 connections: webhooks/s, p50 and p99 latency
        (the adapter twice: at --log.level=warning, and at info as operators run it)
    S2  100-alert groups, upstream latency 20 ms, 4 connections: group completion p50/p99
    S3  one 5,000-alert group, upstream latency 20 ms: completion time, all delivered, peak RSS
    S4  idle RSS, time from start to 200 on /-/ready
    S5  the storm, adapter only (the forwarder has no budget): one webhook of 2,000 warnings
        with one critical among them at events-v2's default budget (120 in any minute, 12 of
        them kept for pages),
        and one second in, another group's critical: the time from each critical's webhook to
        its arrival at the upstream (target 1 s), and the storm's answer (503 + Retry-After)
    S6  memory under a flood, adapter only, on a fresh process: idle RSS, then 200 webhooks of
        1,000 alerts never seen before (200,000 alerts), RSS, then 200,000 more, RSS (VmRSS
        from /proc/<pid>/status): targets, growth within 32 MB of idle after the first
        200,000 and none over the second (the delivery memo's bound, adapter/memo.py)
    S7  one 10,000-alert webhook (limits.max_alerts), adapter only, on a fresh process: peak
        RSS (VmHWM), target 192 MiB

Servers: the adapter (`python -m adapter`, an events-v2 receiver per upstream with an inbound
bearer token from a file, default delivery settings: 8 s deadline, concurrency 32, delivery
memo on; `rate_limit: "off"`, since the stand-in is not PagerDuty with its 120 a minute, except
for S5's receiver, which keeps that default), and
the bare forwarder (forwarder.py) on aiohttp (the adapter's client stack) and on httpx.
Every webhook carries alerts never sent before (fresh fingerprints per request, see
webhook.lua), so each alert costs the adapter one upstream request, never a memo skip; the
report gives upstream requests per alert answered to show it.

Placement on a machine with two cores or more (`taskset`): the server under test alone on the
first allowed core; the load generator (wrk, one thread, Lua script webhook.lua; or
loadgen.py when wrk is missing), the stand-in upstream (upstream.py) and this harness on the
second. The upstream shares the load generator's core rather than the server's so that every
cycle on the server's core is the server's; it is a raw asyncio protocol answering 202 with a
fixed body, a few microseconds a request, and the harness reports how busy that second core
was so a saturated load side shows up instead of passing as a slow server. It also reports
how busy the server's core was with anything else (another test run on a shared machine shows
up there), and waits (--quiet-wait) for both cores to be idle before each load.

Latencies are wrk's (closed loop: each connection sends its next webhook when the answer is
in). Every S1/S2 figure is also given as a ratio adapter / reference. Medians over the runs go
to the table; every run's figures go to the JSON report (default bench-results/report.json,
and the table beside it as report.md). `--quick` is a few-second smoke run (one run, 1 s per
load, a 200-alert S3): it checks the harness works, its figures mean little.

`--tracing` adds S1 on a third adapter, at warning like the first, with a `tracing:` block
(adapter/tracing.py) that samples every webhook and exports over OTLP/HTTP to a second
upstream.py on the load core, which answers each export 200-class as a collector would: the cost
of tracing on, against the first adapter's tracing off (which is the default adapter's cost).

`--profile` then runs S1 on a fresh adapter under py-spy (`pip install py-spy`) and writes the
collapsed stacks (bench-results/profile-s1-LEVEL.txt; speedscope.app opens them) and a summary
(profile-s1-LEVEL-summary.txt): adapter functions by inclusive share, functions by self share,
packages by self share.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import http.client
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LUA = HERE / "webhook.lua"
UPSTREAM_LATENCY_MS = 20
S1_CONNECTIONS, S2_CONNECTIONS, S2_GROUP = 16, 4, 100
ROUTING_KEY = "bench-routing-key-0123456789abcdef"
MARKER = "RQRQRQRQRQRQ"  # in each fingerprint; replaced by a series and a request number
CLK_TCK = os.sysconf("SC_CLK_TCK")

SERVERS = {
    "adapter": "adapter (log warning)",
    "adapter-info": "adapter (log info)",
    "adapter-traced": "adapter (log warning, tracing on, every webhook sampled)",
    "ref-aiohttp": "bare forwarder, aiohttp",
    "ref-httpx": "bare forwarder, httpx",
}


# -- placement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    server_core: int | None
    load_core: int | None

    @classmethod
    def detect(cls) -> Placement:
        allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if shutil.which("taskset") and len(allowed) >= 2:
            return cls(allowed[0], allowed[1])
        return cls(None, None)

    def server(self, cmd: list[str]) -> list[str]:
        return _taskset(self.server_core, cmd)

    def load(self, cmd: list[str]) -> list[str]:
        return _taskset(self.load_core, cmd)

    def describe(self) -> str:
        if self.server_core is None:
            return "none (taskset missing or fewer than 2 cores): figures are noisier"
        return (
            f"taskset: server core {self.server_core}; load generator, upstream and harness "
            f"core {self.load_core}"
        )


def _taskset(core: int | None, cmd: list[str]) -> list[str]:
    return cmd if core is None else ["taskset", "-c", str(core), *cmd]


# -- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, from /proc (0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_mb(pid: int, key: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident) of a live process, in MB (10^6 bytes)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Process:
    """A child process this harness started; stopped by its own pid, never by name."""

    def __init__(self, cmd: list[str], log: Path, **kwargs: Any) -> None:
        self.log = log
        with log.open("ab") as sink:
            self.popen = subprocess.Popen(
                cmd,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=kwargs.pop("stdout", sink),
                stderr=sink,
                **kwargs,
            )
        self.pid = self.popen.pid  # taskset execs the command: the same pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        if self.popen.stdout:
            self.popen.stdout.close()


def http_exchange(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    token: str | None = None,
    timeout: float = 30.0,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a new connection: the status, the answer's headers (names lower-cased)
    and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        conn.close()


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    token: str | None = None,
    timeout: float = 30.0,
) -> tuple[int, bytes]:
    status, _, answer = http_exchange(port, method, path, body, token, timeout)
    return status, answer


class Upstream:
    """upstream.py on the load core: answers 202; `/latency/<ms>/...` after that delay."""

    def __init__(self, placement: Placement, workdir: Path, name: str = "upstream") -> None:
        cmd = placement.load([sys.executable, str(HERE / "upstream.py")])
        self.process = Process(cmd, workdir / f"{name}.log", stdout=subprocess.PIPE)
        assert self.process.popen.stdout is not None
        line = self.process.popen.stdout.readline().decode()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the upstream did not start: {line!r}\n{self.process.tail()}")
        self.port = int(line.split()[-1])

    def url(self, latency_ms: int = 0, watch: bool = False) -> str:
        prefix = f"/latency/{latency_ms}" if latency_ms else "/watch" if watch else ""
        return f"http://127.0.0.1:{self.port}{prefix}/v2/enqueue"

    def stats(self) -> dict[str, Any]:
        return dict(json.loads(http_request(self.port, "GET", "/-/stats")[1]))

    def requests(self) -> int:
        return int(self.stats()["requests"])

    def watched(self) -> dict[str, float]:
        """When the first request carrying each WATCH-<name> token arrived (time.monotonic())."""
        return {k: float(v) for k, v in self.stats()["watched"].items()}

    def wait_for(self, count: int, timeout: float = 5.0) -> int:
        """Upstream requests once they reach `count` (or when `timeout` has passed)."""
        deadline = time.monotonic() + timeout
        while (seen := self.requests()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return seen


class Server:
    """The server under test on its own core: the adapter, or the bare forwarder."""

    def __init__(
        self,
        name: str,
        placement: Placement,
        upstream: Upstream,
        workdir: Path,
        token: str,
        collector: Upstream | None = None,  # adapter-traced's OTLP endpoint (--tracing)
    ) -> None:
        self.name, self.token = name, token
        self.port = free_port()
        listen = f"127.0.0.1:{self.port}"
        routes = {
            "fast": upstream.url(),
            "slow": upstream.url(UPSTREAM_LATENCY_MS),
            "storm": upstream.url(watch=True),
        }
        if name.startswith("adapter"):
            config = workdir / "adapter.yml"
            if not config.exists():
                write_adapter_config(config, workdir / "tokens", token, routes)
            if name == "adapter-traced":
                assert collector is not None, "--tracing starts the collector stand-in"
                config = workdir / "adapter-traced.yml"
                write_adapter_config(config, workdir / "tokens", token, routes)
                with config.open("a") as lines:
                    lines.write(
                        "tracing:\n  client_type: http\n  insecure: true\n"
                        f"  endpoint: 127.0.0.1:{collector.port}\n  sampling_fraction: 1\n"
                    )
            level = "info" if name == "adapter-info" else "warning"
            cmd = [
                sys.executable,
                "-m",
                "adapter",
                f"--config.file={config}",
                f"--web.listen-address={listen}",
                f"--log.level={level}",
            ]
        else:
            client = name.removeprefix("ref-")
            cmd = [sys.executable, str(HERE / "forwarder.py"), f"--listen={listen}"]
            cmd += [f"--client={client}", *(f"--route={k}={v}" for k, v in routes.items())]
        self.cmd = placement.server(cmd)
        self.log = workdir / f"{name}.log"
        self.process: Process | None = None
        self.ready_seconds = float("nan")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        started = time.perf_counter()
        # Operators' logs go to a file or a pipe, not a terminal: a file here.
        self.process = Process(self.cmd, self.log)
        deadline = started + 30
        while True:
            with contextlib.suppress(OSError, http.client.HTTPException):
                if http_request(self.port, "GET", "/-/ready", timeout=1)[0] == 200:
                    break
            if not self.process.alive() or time.perf_counter() > deadline:
                raise RuntimeError(f"{self.name} did not become ready:\n{self.process.tail()}")
            time.sleep(0.005)
        self.ready_seconds = time.perf_counter() - started

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def url(self, receiver: str) -> str:
        return f"http://127.0.0.1:{self.port}/alerts/{receiver}"

    def post(self, receiver: str, body: bytes, timeout: float = 60) -> tuple[int, dict[str, Any]]:
        status, raw = http_request(
            self.port, "POST", f"/alerts/{receiver}", body, self.token, timeout
        )
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, {"raw": raw[:500].decode(errors="replace")}


# `--store`: the redis-server on the load core that the adapter shares its rate windows,
# memo and history through (adapter/coordination/); None: no `coordination:` block.
STORE_URL: str | None = None


@contextlib.contextmanager
def shared_store(placement: Placement, workdir: Path, on: bool) -> Iterator[None]:
    """With `on`, a redis-server on the load core for the run, its URL in STORE_URL."""
    global STORE_URL
    if not on:
        yield
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install redis-server")
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = Process(placement.load(cmd), workdir / "redis.log")
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as c:
            c.sendall(b"PING\r\n")
            if c.recv(16).startswith(b"+PONG"):
                break
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not start:\n{process.tail()}")
        time.sleep(0.05)
    STORE_URL = f"redis://127.0.0.1:{port}/0"
    try:
        yield
    finally:
        STORE_URL = None
        process.stop()


def write_adapter_config(path: Path, tokens: Path, token: str, routes: dict[str, str]) -> None:
    tokens.write_text(token + "\n")
    lines = ["auth:", f"  bearer_tokens_file: {json.dumps(str(tokens))}", "receivers:"]
    for name, url in routes.items():
        lines += [
            f"  - name: {name}",
            "    type: events-v2",
            f"    url: {json.dumps(url)}",
            f"    routing_key: {json.dumps(ROUTING_KEY)}",
        ]
        # The stand-in is not PagerDuty: no request budget (events-v2 defaults to 120/min),
        # except for the storm scenario, which measures priority under that default.
        if name != "storm":
            lines.append('    rate_limit: "off"')
    if STORE_URL is not None:
        lines += ["coordination:", f"  redis: {{url: {json.dumps(STORE_URL)}}}", "  replicas: 2"]
    path.write_text("\n".join(lines) + "\n")


# -- payloads -------------------------------------------------------------------------------


def make_alert(index: int) -> dict[str, Any]:
    instance = f"api-{index:05d}.prod.example:9100"
    return {
        "status": "firing",
        "labels": {
            "alertname": "HighErrorRate",
            "env": "prod",
            "instance": instance,
            "job": "api",
            "service": "api",
            "severity": "critical",
        },
        "annotations": {
            "summary": f"Error rate above 5% on {instance}",
            "description": "5xx ratio over the last 5 minutes is 7.3% (threshold 5%).",
            "runbook_url": "https://runbooks.example/api/HighErrorRate",
        },
        "startsAt": "2026-11-23T10:00:00.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=job%3Aerrors%3Aratio5m"
        "+%3E+0.05&g0.tab=1",
        # 16 hex digits like Alertmanager's; the load generator fills in the first 12 per
        # request (webhook.lua), so every webhook carries alerts the adapter has not seen.
        "fingerprint": f"{MARKER}{index:04x}",
    }


def make_payload(size: int, receiver: str) -> bytes:
    """An Alertmanager v4 webhook with `size` firing alerts, each its own fingerprint (with the
    marker the load generator replaces: see `fresh`)."""
    assert size <= 0x10000, "four hex digits number the alerts of a group"
    alerts = [make_alert(i) for i in range(size)]
    common = {k: v for k, v in alerts[0]["labels"].items() if k != "instance" or size == 1}
    payload = {
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": receiver,
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": common,
        "commonAnnotations": alerts[0]["annotations"] if size == 1 else {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": alerts,
    }
    return json.dumps(payload).encode()


S5_ALERTS, S5_CRITICAL_AT, S5_LATE_S = 2000, 1234, 1.0
S6_WEBHOOKS, S6_GROUP, S7_ALERTS = 200, 1000, 10_000
MIB = 1024 * 1024 / 1e6  # a MiB in the report's MB


def storm_payloads(tag: str) -> tuple[bytes, bytes]:
    """S5: one group of warnings with one critical among them (kube-prometheus groups by
    namespace, so they mix), and another group with one critical. Each critical's instance
    is a WATCH- token the upstream timestamps, with `tag` in it: the upstream keeps the first
    arrival of each token for its whole life, so every run needs tokens of its own."""
    alerts = [make_alert(i) for i in range(S5_ALERTS)]
    for alert in alerts:
        alert["labels"] |= {"severity": "warning", "namespace": "shop"}
    alerts[S5_CRITICAL_AT]["labels"] |= {"severity": "critical", "instance": f"WATCH-storm-{tag}"}
    storm = {
        "version": "4",
        "groupKey": '{}:{namespace="shop"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "storm",
        "groupLabels": {"namespace": "shop"},
        "commonLabels": {"namespace": "shop"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": alerts,
    }
    page = make_alert(S5_ALERTS)
    page["labels"] |= {"alertname": "DatabaseDown", "instance": f"WATCH-other-{tag}"}
    other = {
        **storm,
        "groupKey": '{}:{alertname="DatabaseDown"}',
        "groupLabels": {"alertname": "DatabaseDown"},
        "commonLabels": page["labels"],
        "alerts": [page],
    }
    return json.dumps(storm).encode(), json.dumps(other).encode()


def fresh(template: bytes, series: int, number: int = 0) -> bytes:
    """The template's alerts with fingerprints never used before (as webhook.lua does)."""
    return template.replace(MARKER.encode(), b"%04x%08x" % (series, number))


# -- load -----------------------------------------------------------------------------------


@dataclass
class Load:
    """One closed-loop load run, wrk's figures plus where the CPU went."""

    result: dict[str, Any]
    wall: float
    load_cpu: float  # the load generator's CPU seconds
    upstream_requests: int

    @property
    def seconds(self) -> float:
        return float(self.result["duration_us"]) / 1e6

    @property
    def ok(self) -> int:
        return int(self.result["requests"]) - int(self.result["errors"]["status"])

    @property
    def failures(self) -> int:
        return sum(int(v) for v in self.result["errors"].values())

    def ms(self, key: str) -> float | None:
        """A latency in ms; None when no request completed (wrk then says 0)."""
        if self.ok <= 0:
            return None
        return float(self.result["latency_us"][key]) / 1000


def core_times() -> dict[int, tuple[int, int]]:
    """Per core, (busy, total) jiffies since boot, from /proc/stat."""
    out = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/stat").read_text().splitlines():
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit():
                user, nice, system, idle, iowait, irq, softirq, steal = map(int, fields[:8])
                busy = user + nice + system + irq + softirq + steal
                out[int(name[3:])] = (busy, busy + idle + iowait)
    return out


def busy_pct(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]], core: int):
    if core not in before or core not in after:
        return float("nan")
    busy = after[core][0] - before[core][0]
    total = after[core][1] - before[core][1]
    return 100 * busy / total if total else float("nan")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Bench:
    placement: Placement
    upstream: Upstream
    workdir: Path
    token: str
    duration: int
    warmup: int
    s3_alerts: int
    settle: float
    wrk: str | None
    quiet_wait: float  # at most this long, before each load, for the other processes to calm down
    say: Callable[[str], None]
    s6_webhooks: int = S6_WEBHOOKS  # per half of the flood, S6_GROUP alerts each
    s7_alerts: int = S7_ALERTS
    collector: Upstream | None = None  # --tracing: the OTLP/HTTP stand-in adapter-traced exports to
    bodies: dict[str, Path] = field(default_factory=dict)
    series: int = 0

    def next_series(self) -> int:
        """A new fingerprint series (4 hex digits) for each load or webhook: no alert repeats."""
        self.series += 1
        return self.series % 0x10000

    def body(self, size: int, receiver: str) -> Path:
        key = f"{receiver}-{size}"
        if key not in self.bodies:
            path = self.workdir / f"body-{key}.json"
            path.write_bytes(make_payload(size, receiver))
            self.bodies[key] = path
        return self.bodies[key]

    def quiet(self) -> float:
        """Wait (up to quiet_wait) until both cores are idle; the seconds waited.

        The server's core is only the server's if nothing else runs there: a test suite or a
        build started beside the benchmark would show up as a slower adapter.
        """
        cores = [c for c in (self.placement.server_core, self.placement.load_core) if c is not None]
        if not cores or self.quiet_wait <= 0:
            return 0.0
        started = time.monotonic()
        while True:
            before = core_times()
            time.sleep(0.5)
            after = core_times()
            if all(busy_pct(before, after, c) < 15 for c in cores):
                return time.monotonic() - started
            if time.monotonic() - started > self.quiet_wait:
                self.say(
                    f"  (the machine stayed busy for {self.quiet_wait:.0f} s: measuring anyway)"
                )
                return time.monotonic() - started

    def load(
        self, server: Server, receiver: str, body: Path, connections: int, seconds: int
    ) -> Load:
        url = server.url(receiver)
        series = str(self.next_series())
        if self.wrk:
            cmd = [self.wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
            cmd += ["-s", str(LUA), url, "--", str(body), series]
        else:
            cmd = [sys.executable, str(HERE / "loadgen.py"), url, str(body), series]
            cmd += [f"--connections={connections}", f"--duration={seconds}"]
        env = {**os.environ, "BENCH_TOKEN": self.token}
        upstream_before = self.upstream.requests()
        load_cpu = children_cpu()
        started = time.perf_counter()
        done = subprocess.run(
            self.placement.load(cmd),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
        wall = time.perf_counter() - started
        load_cpu = children_cpu() - load_cpu
        marker = [line for line in done.stdout.splitlines() if line.startswith("BENCH_JSON ")]
        if done.returncode != 0 or not marker:
            raise RuntimeError(
                f"load generator failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
        return Load(
            json.loads(marker[-1].removeprefix("BENCH_JSON ")),
            wall,
            load_cpu,
            self.upstream.requests() - upstream_before,
        )

    def measured_load(
        self, server: Server, receiver: str, size: int, connections: int
    ) -> tuple[Load, dict[str, float]]:
        """Warm up, then measure; how busy each core was, and with what."""
        body = self.body(size, receiver)
        waited = self.quiet()
        if self.warmup:
            self.load(server, receiver, body, connections, self.warmup)
        upstream_cpu = cpu_seconds(self.upstream.process.pid)
        server_cpu = cpu_seconds(server.pid)
        harness_cpu = own_cpu()
        cores = core_times()
        run = self.load(server, receiver, body, connections, self.duration)
        cores_after = core_times()
        harness_cpu = own_cpu() - harness_cpu
        upstream_cpu = cpu_seconds(self.upstream.process.pid) - upstream_cpu
        server_cpu = cpu_seconds(server.pid) - server_cpu
        shares = {
            "server_cpu_s": server_cpu,
            "server_pct": 100 * server_cpu / run.wall,
            "load_side_pct": 100 * (run.load_cpu + upstream_cpu + harness_cpu) / run.wall,
            "load_generator_pct": 100 * run.load_cpu / run.wall,
            "upstream_pct": 100 * upstream_cpu / run.wall,
            "quiet_wait_s": waited,
        }
        if self.placement.server_core is not None and self.placement.load_core is not None:
            server_core = busy_pct(cores, cores_after, self.placement.server_core)
            load_core = busy_pct(cores, cores_after, self.placement.load_core)
            shares |= {
                "server_core_busy_pct": server_core,
                "load_core_busy_pct": load_core,
                # Busy time on each core that none of the benchmark's processes accounts for:
                # other processes, or kernel work (loopback networking) not charged to ours.
                "server_core_other_pct": server_core - shares["server_pct"],
                "load_core_other_pct": load_core - shares["load_side_pct"],
            }
        return run, shares

    # -- scenarios ----------------------------------------------------------------------

    def check(self, server: Server) -> None:
        """One webhook first: a wrong config or token must fail loudly, not as a fast 401."""
        body = fresh(self.body(1, "fast").read_bytes(), self.next_series())
        status, answer = server.post("fast", body)
        if status != 200 or answer.get("delivered") != 1:
            raise RuntimeError(f"{server.name} answered {status} {answer}")

    def s1(self, server: Server) -> dict[str, Any]:
        run, shares = self.measured_load(server, "fast", 1, S1_CONNECTIONS)
        return {
            "webhooks_per_s": run.ok / run.seconds,
            # The server's own cost, whatever the round trip to the stand-in upstream: S1 is
            # closed-loop, so webhooks/s also moves with the upstream's latency.
            "cpu_us_per_webhook": 1e6 * shares["server_cpu_s"] / run.ok if run.ok else None,
            "p50_ms": run.ms("p50"),
            "p90_ms": run.ms("p90"),
            "p99_ms": run.ms("p99"),
            "max_ms": run.ms("max"),
            "webhooks": run.ok,
            "failures": run.failures,
            "upstream_events": run.upstream_requests,
            "upstream_per_alert": run.upstream_requests / run.ok if run.ok else None,
            **shares,
        }

    def s2(self, server: Server) -> dict[str, Any]:
        run, shares = self.measured_load(server, "slow", S2_GROUP, S2_CONNECTIONS)
        alerts = run.ok * S2_GROUP
        return {
            "group_p50_ms": run.ms("p50"),
            "group_p90_ms": run.ms("p90"),
            "group_p99_ms": run.ms("p99"),
            "groups_per_s": run.ok / run.seconds,
            "events_per_s": alerts / run.seconds,
            "groups": run.ok,
            "failures": run.failures,
            "upstream_events": run.upstream_requests,
            "upstream_per_alert": run.upstream_requests / alerts if alerts else None,
            **shares,
        }

    def s3(self, server: Server) -> dict[str, Any]:
        size = self.s3_alerts
        body = fresh(self.body(size, "slow").read_bytes(), self.next_series())
        before = self.upstream.requests()
        started = time.perf_counter()
        status, answer = server.post("slow", body)
        completion = time.perf_counter() - started
        upstream_events = self.upstream.wait_for(before + size) - before
        delivered = int(answer.get("delivered", -1))
        return {
            "alerts": size,
            "completion_s": completion,
            "status": status,
            "delivered": delivered,
            "upstream_events": upstream_events,
            "all_delivered": status == 200 and delivered == size and upstream_events >= size,
            "peak_rss_mb": memory_mb(server.pid, "VmHWM"),
            "rss_after_mb": memory_mb(server.pid, "VmRSS"),
        }

    def s5(self, server: Server) -> dict[str, Any]:
        """The storm at the default budget: each critical's time from its webhook to the API."""
        series = self.next_series()
        storm, other = (
            fresh(body, series, n) for n, body in enumerate(storm_payloads(str(series)))
        )
        before = self.upstream.requests()
        sent: dict[str, float] = {}
        answers: dict[str, tuple[float, int, dict[str, str]]] = {}

        def post(name: str, body: bytes) -> None:
            sent[name] = time.monotonic()
            status, headers, _ = http_exchange(
                server.port, "POST", "/alerts/storm", body, self.token, timeout=60
            )
            answers[name] = (time.monotonic(), status, headers)

        storm_thread = threading.Thread(target=post, args=("storm", storm))
        storm_thread.start()
        while "storm" not in sent:
            time.sleep(0.001)
        time.sleep(max(0.0, sent["storm"] + S5_LATE_S - time.monotonic()))
        post("other", other)
        storm_thread.join()
        watched = self.upstream.watched()

        def to_api(name: str, token: str) -> float | None:
            arrived = watched.get(token)
            return None if arrived is None else 1000 * (arrived - sent[name])

        answered, status, headers = answers["storm"]
        requests = self.upstream.requests() - before
        # The default budget: 120 in any minute (the scenario lasts a few seconds).
        allowed = 120
        return {
            "storm_critical_ms": to_api("storm", f"WATCH-storm-{series}"),
            "other_critical_ms": to_api("other", f"WATCH-other-{series}"),
            "storm_status": status,
            "storm_retry_after": headers.get("retry-after"),
            "storm_answered_503_retry_after": status == 503 and "retry-after" in headers,
            "other_status": answers["other"][1],
            "storm_answer_s": answered - sent["storm"],
            "upstream_requests": requests,
            "within_budget": requests <= allowed,
            "criticals_arrived": {f"WATCH-storm-{series}", f"WATCH-other-{series}"} <= set(watched),
        }

    def s6(self, server: Server) -> dict[str, Any]:
        """Two floods of fresh alerts; RSS before, between and after."""
        time.sleep(self.settle)
        idle = memory_mb(server.pid, "VmRSS")
        template = self.body(S6_GROUP, "fast").read_bytes()
        figures: dict[str, Any] = {"idle_rss_mb": idle, "alerts_per_half": 0}
        delivered = reposts = failures = 0
        for half in ("first", "second"):
            started = time.perf_counter()
            for _ in range(self.s6_webhooks):
                body = fresh(template, self.next_series())
                status, answer = server.post("fast", body)
                delivered += int(answer.get("delivered", 0))
                # A 503 (the deadline, on a busy machine) is re-posted as Alertmanager would:
                # the memo skips what went out, the rest goes now.
                for _ in range(3):
                    if status == 200:
                        break
                    reposts += 1
                    status, answer = server.post("fast", body)
                    delivered += int(answer.get("delivered", 0))
                failures += status != 200
            figures[f"{half}_s"] = time.perf_counter() - started
            figures[f"rss_after_{half}_mb"] = memory_mb(server.pid, "VmRSS")
        figures["alerts_per_half"] = self.s6_webhooks * S6_GROUP
        figures["growth_first_mb"] = figures["rss_after_first_mb"] - idle
        figures["growth_second_mb"] = figures["rss_after_second_mb"] - figures["rss_after_first_mb"]
        figures["all_delivered"] = failures == 0 and delivered == 2 * figures["alerts_per_half"]
        figures["failures"] = failures
        figures["reposts"] = reposts
        return figures

    def s7(self, server: Server) -> dict[str, Any]:
        """One webhook at limits.max_alerts: the peak resident memory it takes."""
        time.sleep(self.settle)
        idle = memory_mb(server.pid, "VmRSS")
        body = fresh(make_payload(self.s7_alerts, "fast"), self.next_series())
        started = time.perf_counter()
        status, answer = server.post("fast", body)
        return {
            "alerts": self.s7_alerts,
            "idle_rss_mb": idle,
            "completion_s": time.perf_counter() - started,
            "status": status,
            "all_delivered": status == 200 and answer.get("delivered") == self.s7_alerts,
            "peak_rss_mb": memory_mb(server.pid, "VmHWM"),
            "peak_rss_mib": memory_mb(server.pid, "VmHWM") / MIB,
        }

    def s4(self, server: Server) -> dict[str, Any]:
        time.sleep(self.settle)
        return {"ready_s": server.ready_seconds, "idle_rss_mb": memory_mb(server.pid, "VmRSS")}


def run_once(bench: Bench, scenarios: list[str], run: int, say: Callable[[str], None]) -> dict:
    results: dict[str, dict[str, Any]] = {}
    names = ["adapter", "ref-aiohttp", "ref-httpx"]
    if "S1" in scenarios:
        names.append("adapter-info")
        if bench.collector is not None:
            names.append("adapter-traced")
    # Two lives per server, so that no scenario measures what an earlier one left behind: the
    # loads (S1, S2) right after start; then, on a fresh process whose peak RSS is S3's own,
    # S3's 5,000-alert group and the storm. (After S3 the forwarder, which freezes no startup
    # heap, took 200 µs a webhook in S1, against 179-193 µs on fresh processes.)
    lives: list[list[tuple[str, Callable[[Server], dict[str, Any]]]]] = [
        [("S4", bench.s4), ("S1", bench.s1), ("S2", bench.s2)],
        [("S3", bench.s3), ("S5", bench.s5)],
        [("S6", bench.s6)],
        [("S7", bench.s7)],
    ]
    for name in names:
        results[name] = {}
        for life in lives:
            steps = life
            if name in ("adapter-info", "adapter-traced"):
                steps = [step for step in life if step[0] == "S1"]
            elif name != "adapter":  # no budget, no priority, no memo: nothing to compare
                steps = [step for step in life if step[0] not in ADAPTER_ONLY]
            steps = [step for step in steps if step[0] in scenarios]
            if not steps:
                continue
            server = Server(
                name, bench.placement, bench.upstream, bench.workdir, bench.token, bench.collector
            )
            server.start()
            try:
                checked = False
                for scenario, measure in steps:
                    if scenario in ("S1", "S2") and not checked:
                        bench.check(server)
                        checked = True
                    results[name][scenario] = measure(server)
                    say(f"run {run} {name:12} {scenario}: {_brief(results[name][scenario])}")
            finally:
                server.stop()
    return results


ADAPTER_ONLY = ("S5", "S6", "S7")


def _brief(figures: dict[str, Any]) -> str:
    keys = [k for k in figures if not k.endswith("_pct") and k not in ("failures",)][:4]
    text = ", ".join(f"{k}={_num(figures[k])}" for k in keys)
    if "server_pct" in figures:
        text += f", server {figures['server_pct']:.0f}% of a core"
    if "server_core_other_pct" in figures:
        text += (
            f", other load on its core {figures['server_core_other_pct']:.0f}%"
            f", load core busy {figures['load_core_busy_pct']:.0f}%"
        )
    if figures.get("failures"):
        text += f", FAILURES={figures['failures']}"
    return text


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# -- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    scenario: str
    metric: str
    key: str  # "S1.webhooks_per_s"
    unit: str
    server: str = "adapter"
    target: str = "—"
    meets: Callable[[float, float | None], bool] | None = None  # (adapter, ratio) -> met


def _ratio_at_least(bound: float) -> Callable[[float, float | None], bool]:
    return lambda v, r: r is not None and r >= bound


def _ratio_at_most(bound: float) -> Callable[[float, float | None], bool]:
    return lambda v, r: r is not None and r <= bound


# The targets are on the adapter at its default log level (info); at warning for comparison.
ROWS = [
    Row("S1, log warning", "webhooks/s", "S1.webhooks_per_s", "n"),
    Row("S1, log warning", "server CPU per webhook", "S1.cpu_us_per_webhook", "us"),
    Row("S1, log warning", "p50 latency", "S1.p50_ms", "ms"),
    Row("S1, log warning", "p99 latency", "S1.p99_ms", "ms"),
    Row(
        "S1",
        "webhooks/s",
        "S1.webhooks_per_s",
        "n",
        server="adapter-info",
        target="≥ 0.8x ref",
        meets=_ratio_at_least(0.8),
    ),
    Row(
        "S1",
        "server CPU per webhook",
        "S1.cpu_us_per_webhook",
        "us",
        server="adapter-info",
        target="≤ 1.25x ref",
        meets=_ratio_at_most(1.25),
    ),
    Row("S1", "p50 latency", "S1.p50_ms", "ms", server="adapter-info"),
    Row(
        "S1",
        "p99 latency",
        "S1.p99_ms",
        "ms",
        server="adapter-info",
        target="≤ 1.5x ref",
        meets=_ratio_at_most(1.5),
    ),
    # --tracing only: the adapter at warning with every webhook traced (above: tracing off).
    Row("S1, tracing on", "webhooks/s", "S1.webhooks_per_s", "n", server="adapter-traced"),
    Row(
        "S1, tracing on",
        "server CPU per webhook",
        "S1.cpu_us_per_webhook",
        "us",
        server="adapter-traced",
    ),
    Row("S1, tracing on", "p50 latency", "S1.p50_ms", "ms", server="adapter-traced"),
    Row("S1, tracing on", "p99 latency", "S1.p99_ms", "ms", server="adapter-traced"),
    Row("S2", "group p50", "S2.group_p50_ms", "ms", target="≤ 150 ms", meets=lambda v, r: v <= 150),
    Row("S2", "group p99", "S2.group_p99_ms", "ms"),
    Row("S2", "groups/s", "S2.groups_per_s", "n"),
    Row("S3", "completion", "S3.completion_s", "s", target="≤ 8 s", meets=lambda v, r: v <= 8),
    Row(
        "S3", "all delivered", "S3.all_delivered", "bool", target="all", meets=lambda v, r: bool(v)
    ),
    Row("S3", "peak RSS", "S3.peak_rss_mb", "MB", target="≤ 150 MB", meets=lambda v, r: v <= 150),
    # Issue 22 withdrew the 50 MB idle target (pydantic costs what it costs): S6 bounds memory.
    Row("S4", "idle RSS", "S4.idle_rss_mb", "MB"),
    Row("S4", "start to ready", "S4.ready_s", "s", target="≤ 1.5 s", meets=lambda v, r: v <= 1.5),
    Row(
        "S5",
        "storm's critical, webhook → API",
        "S5.storm_critical_ms",
        "ms",
        target="≤ 1 s",
        meets=lambda v, r: v <= 1000,
    ),
    Row(
        "S5",
        "other group's critical, webhook → API",
        "S5.other_critical_ms",
        "ms",
        target="≤ 1 s",
        meets=lambda v, r: v <= 1000,
    ),
    Row(
        "S5",
        "both criticals reached the API",
        "S5.criticals_arrived",
        "bool",
        target="yes",
        meets=lambda v, r: bool(v),
    ),
    Row(
        "S5",
        "storm answered 503 + Retry-After",
        "S5.storm_answered_503_retry_after",
        "bool",
        target="yes",
        meets=lambda v, r: bool(v),
    ),
    Row(
        "S5",
        "upstream within the budget",
        "S5.within_budget",
        "bool",
        target="yes",
        meets=lambda v, r: bool(v),
    ),
    Row("S6 (memory, 2 x 200,000 fresh alerts)", "idle RSS", "S6.idle_rss_mb", "MB"),
    Row(
        "S6",
        "RSS growth over the first 200,000",
        "S6.growth_first_mb",
        "MB",
        target="≤ 32 MB",
        meets=lambda v, r: v <= 32,
    ),
    Row(
        "S6",
        "RSS growth over the second 200,000",
        "S6.growth_second_mb",
        "MB",
        target="≤ 2 MB (none)",
        meets=lambda v, r: v <= 2,
    ),
    Row(
        "S6", "all delivered", "S6.all_delivered", "bool", target="all", meets=lambda v, r: bool(v)
    ),
    Row(
        "S7 (one 10,000-alert webhook)",
        "peak RSS",
        "S7.peak_rss_mb",
        "MB",
        target="≤ 192 MiB (201.3 MB)",
        meets=lambda v, r: v <= 192 * MIB,
    ),
    Row(
        "S7", "all delivered", "S7.all_delivered", "bool", target="all", meets=lambda v, r: bool(v)
    ),
]


BOOLEANS = {row.key for row in ROWS if row.unit == "bool"}


def values(runs: list[dict], server: str, key: str) -> list[float]:
    scenario, metric = key.split(".")
    out = []
    for run in runs:
        figures = run.get(server, {}).get(scenario)
        if figures is not None and figures.get(metric) is not None:
            out.append(float(figures[metric]))
    return out


def summary(runs: list[dict], key: str, server: str) -> float | None:
    """The median over the runs; for a yes/no figure, the worst run."""
    found = values(runs, server, key)
    if not found:
        return None
    # A yes/no figure is the worst run's: every run must say yes.
    return min(found) if key in BOOLEANS else statistics.median(found)


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "bool":
        return "yes" if value else "NO"
    if unit == "n":
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "us":
        return f"{value:.0f} µs"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:.1f} MB"


# With the shared store on (--store), issue 22's target for S1: 0.7x the forwarder's webhooks/s
# (a memo claim in Redis before each send); the store-off CPU bound does not apply.
WITH_STORE = {
    ("S1", "webhooks/s"): ("≥ 0.7x ref (store on)", _ratio_at_least(0.7)),
    ("S1", "server CPU per webhook"): ("—", None),
}


def table(
    runs: list[dict], scenarios: list[str], store: bool = False
) -> tuple[list[dict[str, Any]], str]:
    rows, lines = [], []
    lines.append(
        "| scenario | metric | adapter | reference (aiohttp) | ratio | reference (httpx) "
        "| ratio (httpx) | target | met? |"
    )
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for row in ROWS:
        if row.scenario[:2] not in scenarios:
            continue
        if store and (row.scenario, row.metric) in WITH_STORE:
            target, meets = WITH_STORE[row.scenario, row.metric]
            row = replace(row, target=target, meets=meets)
        mine = summary(runs, row.key, row.server)
        if mine is None and row.server == "adapter-traced":  # not asked for (--tracing)
            continue
        refs = {ref: summary(runs, row.key, ref) for ref in ("ref-aiohttp", "ref-httpx")}
        ratios = {
            ref: (mine / value if mine is not None and value else None)
            for ref, value in refs.items()
        }
        if row.unit == "bool":
            ratios = dict.fromkeys(ratios)
        met = None
        if row.meets is not None and mine is not None:
            met = row.meets(mine, ratios["ref-aiohttp"])
        rows.append(
            {
                "scenario": row.scenario,
                "metric": row.metric,
                "server": row.server,
                "key": row.key,
                "adapter": mine,
                "adapter_runs": values(runs, row.server, row.key),
                "reference_aiohttp": refs["ref-aiohttp"],
                "ratio": ratios["ref-aiohttp"],
                "reference_httpx": refs["ref-httpx"],
                "ratio_httpx": ratios["ref-httpx"],
                "target": row.target,
                "met": met,
            }
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    row.scenario,
                    row.metric,
                    fmt(mine, row.unit),
                    fmt(refs["ref-aiohttp"], row.unit),
                    "—" if ratios["ref-aiohttp"] is None else f"{ratios['ref-aiohttp']:.2f}",
                    fmt(refs["ref-httpx"], row.unit),
                    "—" if ratios["ref-httpx"] is None else f"{ratios['ref-httpx']:.2f}",
                    row.target,
                    "—" if met is None else ("yes" if met else "**no**"),
                ]
            )
            + " |"
        )
    return rows, "\n".join(lines)


def cpu_notes(runs: list[dict]) -> str:
    """Where the CPU went under load, and anything that makes a figure suspect."""
    lines = []
    for server in SERVERS:
        for scenario in ("S1", "S2"):

            def med(metric: str, server: str = server, scenario: str = scenario) -> float:
                found = summary(runs, f"{scenario}.{metric}", server)
                return float("nan") if found is None else found

            if summary(runs, f"{scenario}.server_pct", server) is None:
                continue
            line = f"- {scenario} {SERVERS[server]}: server {med('server_pct'):.0f}% of a core"
            if summary(runs, f"{scenario}.server_core_busy_pct", server) is not None:
                line += (
                    f" (its core {med('server_core_busy_pct'):.0f}% busy, "
                    f"{med('server_core_other_pct'):.0f}% not the server's); load core "
                    f"{med('load_core_busy_pct'):.0f}% busy (load generator "
                    f"{med('load_generator_pct'):.0f}%, upstream {med('upstream_pct'):.0f}%, "
                    f"{med('load_core_other_pct'):.0f}% not the benchmark's)"
                )
            line += f"; upstream requests per alert {med('upstream_per_alert'):.2f}"
            failures = sum(values(runs, server, f"{scenario}.failures"))
            if failures:
                line += f"; **{failures:.0f} failed requests**"
            if med("load_side_pct") > 90:
                line += "; **load side saturated: the server's figure is a lower bound**"
            if med("server_core_other_pct") > 10:
                line += "; **other processes ran on the server's core: figures are suspect**"
            elif med("load_core_busy_pct") > 85 and med("load_core_other_pct") > 20:
                line += "; **other processes crowded the load core: figures are suspect**"
            if med("upstream_per_alert") < 0.98:
                line += "; **fewer upstream requests than alerts answered**"
            lines.append(line)
    return "\n".join(lines)


# -- the machine ----------------------------------------------------------------------------


def machine(placement: Placement, wrk: str | None) -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("starlette", "uvicorn", "uvloop", "httptools", "aiohttp", "httpx"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    generator = "loadgen.py (aiohttp; wrk not installed)"
    if wrk:
        probe = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        found = re.search(r"wrk [^\s]+", probe.stdout + probe.stderr)
        generator = f"{found.group(0) if found else 'wrk'}, 1 thread, webhook.lua"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "placement": placement.describe(),
        "load_generator": generator,
        "packages": versions,
        "git": git_state(),
    }


def git_state() -> dict[str, str]:
    """Which adapter was measured: the commit, and a hash of uncommitted changes under adapter/."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
            )
        except OSError:  # no git (a stock Debian, an unpacked tarball): say "unknown"
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    diff = git("diff", "HEAD", "--", "adapter")
    return {
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "adapter_changes": hashlib.sha256(diff.encode()).hexdigest()[:12] if diff else "none",
    }


def describe(info: dict[str, Any], settings: dict[str, Any]) -> str:
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    changes = info["git"]["adapter_changes"]
    return "\n".join(
        [
            f"- machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
            f"Linux {info['kernel']}",
            f"- placement: {info['placement']}",
            f"- load generator: {info['load_generator']}; upstream: upstream.py "
            f"(202, {UPSTREAM_LATENCY_MS} ms in S2/S3)",
            f"- packages: {packages}",
            f"- adapter: commit {info['git']['commit']}"
            + (f", uncommitted adapter/ changes {changes}" if changes != "none" else "")
            + (
                f"; **changed during the run** (then commit {info['git_after']['commit']}, "
                f"changes {info['git_after']['adapter_changes']})"
                if "git_after" in info
                else ""
            ),
            f"- medians of {settings['runs']} run(s), {settings['duration']} s per load "
            f"after {settings['warmup']} s warm-up; S3 {settings['s3_alerts']} alerts; "
            f"S6 2 x {settings['s6_webhooks']} webhooks of {S6_GROUP} alerts; "
            f"S7 {settings['s7_alerts']} alerts; "
            "ratio = adapter / reference",
            "- shared store: "
            + (
                "**on** (coordination:, a redis-server on the load core)"
                if settings.get("store")
                else "off"
            ),
        ]
    )


# -- profile --------------------------------------------------------------------------------


def profile(bench: Bench, level: str, out_dir: Path, say: Callable[[str], None]) -> str:
    """S1 on a fresh adapter under py-spy; the collapsed stacks and a text summary."""
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    name = "adapter-info" if level == "info" else "adapter"
    server = Server(name, bench.placement, bench.upstream, bench.workdir, bench.token)
    stacks = out_dir / f"profile-s1-{level}.txt"
    server.start()
    pid = server.pid
    try:
        bench.check(server)
        body = bench.body(1, "fast")
        bench.load(server, "fast", body, S1_CONNECTIONS, max(1, bench.warmup))
        # --gil: only the thread holding the GIL. Without it, threads waiting for the GIL (or
        # parked in C) count as busy and drown the event loop's own samples.
        cmd = [py_spy, "record", "--pid", str(server.pid), "--rate", "250", "--format", "raw"]
        cmd += ["--gil", "--nolineno", "--duration", str(bench.duration), "--output", str(stacks)]
        spy = subprocess.Popen(
            bench.placement.load(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        time.sleep(0.5)  # py-spy attaches
        threads = thread_cpu(server.pid)
        load = bench.load(server, "fast", body, S1_CONNECTIONS, bench.duration)
        threads = {
            tid: (seconds - threads.get(tid, 0.0)) / load.wall
            for tid, seconds in thread_cpu(server.pid).items()
        }
        _, err = spy.communicate(timeout=bench.duration + 60)
        if spy.returncode != 0 or not stacks.exists():
            raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')}")
    finally:
        server.stop()
    main_thread = threads.pop(pid, 0.0)
    busy = sorted((share for share in threads.values() if share >= 0.005), reverse=True)
    text = (
        f"py-spy --gil, {SERVERS[name]}, S1 ({S1_CONNECTIONS} connections, one-alert webhooks), "
        f"{bench.duration} s at 250 Hz while serving {load.ok / load.seconds:,.0f} webhooks/s "
        "(slowed by sampling)\n"
        f"CPU by thread (/proc, share of one core): main thread (event loop) "
        f"{100 * main_thread:.0f}%, {len(busy)} other busy thread(s) "
        f"{100 * sum(busy):.0f}% ({', '.join(f'{100 * x:.0f}%' for x in busy) or '-'}); "
        f"{len(threads) + 1} threads in all\n" + summarise_stacks(stacks.read_text())
    )
    (out_dir / f"profile-s1-{level}-summary.txt").write_text(text)
    say(f"profile: {stacks} (collapsed stacks; speedscope.app opens them)")
    return text


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of a live process, from /proc."""
    out = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                out[int(tid)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*)\)$")


def _package(path: str) -> str:
    if f"{ROOT}/adapter/" in path or path.startswith("adapter/"):
        return "adapter"
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/lib/python3" in path:
        path = path.rsplit("/lib/python3", 1)[1].split("/", 1)[1]
    # py-spy names files relative to their sys.path entry: the first part is the package.
    top = path.split("/", 1)[0].removesuffix(".py")
    return f"stdlib:{top}" if top in sys.stdlib_module_names else top


def _short(frame: str) -> str:
    found = _FRAME.match(frame)
    if not found:
        return frame
    path = found["file"]
    if f"{ROOT}/" in path:
        path = path.split(f"{ROOT}/", 1)[1]
    elif "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif "/lib/python3" in path:
        path = "stdlib/" + path.rsplit("/lib/python3", 1)[1].split("/", 1)[-1]
    return f"{found['func']} ({path})"


def summarise_stacks(collapsed: str, top: int = 15) -> str:
    """Shares of samples: adapter functions inclusive, all functions self, packages self."""
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    innermost_adapter: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        for frame in set(frames):
            anywhere[_short(frame)] += count
            if _is_adapter(frame) and not _is_outer(frame):
                inclusive[_short(frame)] += count
        leaf = frames[-1]
        own[_short(leaf)] += count
        found = _FRAME.match(leaf)
        packages[_package(found["file"]) if found else leaf] += count
        adapter_frames = [f for f in frames if _is_adapter(f) and not _is_outer(f)]
        innermost_adapter[_short(adapter_frames[-1]) if adapter_frames else OUTSIDE] += count
    if not total:
        return "no samples\n"

    def listing(title: str, counter: Counter[str], top: int = top) -> list[str]:
        lines = [f"\n{title}"]
        for name, count in counter.most_common(top):
            lines.append(f"  {100 * count / total:5.1f}%  {name}")
        return lines

    out = [f"{total} samples (holding the GIL)"]
    out += listing(
        "adapter/** functions on the request path, inclusive (the function and all it calls):",
        inclusive,
    )
    out += listing(
        "innermost adapter/** frame (its own code plus the library calls it makes directly):",
        innermost_adapter,
    )
    out += listing("functions, self (the frame on top of the stack):", own)
    out += listing("packages, self:", packages)
    out += listing("any function, inclusive:", anywhere, top * 2)
    return "\n".join(out) + "\n"


OUTSIDE = "(no handler frame: the server, the event loop, client callbacks, other threads)"
# Adapter frames under which everything runs: not part of the per-request path.
_OUTER = (
    "adapter/__main__.py",
    "adapter/cli/__init__.py",
    "adapter/cli/serve.py",
    "adapter/server.py",
)


def _is_outer(frame: str) -> bool:
    return frame.endswith(tuple(f"{name})" for name in _OUTER))


def _is_adapter(frame: str) -> bool:
    found = _FRAME.match(frame)
    return bool(found) and _package(found["file"]) == "adapter"


# -- main -----------------------------------------------------------------------------------


SCENARIOS = ("S1", "S2", "S3", "S4", "S5", "S6", "S7")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the adapter against a bare forwarder (see the module docstring).",
    )
    parser.add_argument("--runs", type=int, help="runs to take the median of (default 3)")
    parser.add_argument("--duration", type=int, help="seconds of load per S1/S2 (default 10)")
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench-results" / "report.json", help="JSON report"
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="before each load, wait up to this many seconds for both cores to be idle "
        "(default 30; 0 with --quick)",
    )
    parser.add_argument("--profile", action="store_true", help="then profile S1 with py-spy")
    parser.add_argument(
        "--store",
        action="store_true",
        help="the adapter with its shared store on (coordination:, a redis-server on the "
        "load core); ratios stay to the forwarder of the same run",
    )
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="S1 also on an adapter with tracing on, exporting to a stand-in collector",
    )
    parser.add_argument("--profile-level", choices=("warning", "info"), default="warning")
    parser.add_argument(
        "--load-generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk when installed (auto), or loadgen.py",
    )
    args = parser.parse_args(argv)
    args.scenarios = [s.strip().upper() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}: use {', '.join(SCENARIOS)}")
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.duration is None:
        args.duration = 1 if args.quick else 10
    if args.runs < 0 or args.duration < 1:
        parser.error("--runs must be >= 0 and --duration >= 1")
    return args


@contextlib.contextmanager
def pinned_harness(placement: Placement) -> Iterator[None]:
    """The harness itself runs on the load core, off the server's."""
    if placement.load_core is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {placement.load_core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    placement = Placement.detect()
    wrk = shutil.which("wrk") if args.load_generator in ("auto", "wrk") else None
    if args.load_generator == "wrk" and wrk is None:
        raise SystemExit("wrk not found: apt-get install wrk (or --load-generator python)")
    settings = {
        "runs": args.runs,
        "duration": args.duration,
        "warmup": 0 if args.quick else 2,
        "s3_alerts": 200 if args.quick else 5000,
        "s6_webhooks": 10 if args.quick else S6_WEBHOOKS,
        "s7_alerts": 2000 if args.quick else S7_ALERTS,
        "settle": 0.2 if args.quick else 1.0,
        "quiet_wait": args.quiet_wait if args.quiet_wait is not None else 0 if args.quick else 30,
        "quick": args.quick,
        "tracing": args.tracing,
        "scenarios": args.scenarios,
        "store": args.store,
    }
    info = machine(placement, wrk)

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []
    profile_text = ""
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as tmp,
        pinned_harness(placement),
        shared_store(placement, Path(tmp), args.store),
    ):
        workdir = Path(tmp)
        upstream = Upstream(placement, workdir)
        collector = Upstream(placement, workdir, "collector") if args.tracing else None
        try:
            bench = Bench(
                placement,
                upstream,
                workdir,
                secrets.token_urlsafe(24),
                args.duration,
                settings["warmup"],
                settings["s3_alerts"],
                settings["settle"],
                wrk,
                settings["quiet_wait"],
                say,
                settings["s6_webhooks"],
                settings["s7_alerts"],
                collector,
            )
            for run in range(1, args.runs + 1):
                runs.append(run_once(bench, args.scenarios, run, say))
            if args.profile:
                profile_text = profile(bench, args.profile_level, out.parent, say)
            if collector is not None:
                say(f"tracing: {collector.requests()} OTLP exports received by the stand-in")
        finally:
            upstream.process.stop()
            if collector is not None:
                collector.process.stop()

    after = git_state()
    if after != info["git"]:
        info["git_after"] = after
    rows, markdown = table(runs, args.scenarios, args.store)
    text = "\n\n".join(
        [
            "## incident-adapter benchmark",
            describe(info, settings),
            markdown,
            "CPU under load (medians):\n" + cpu_notes(runs),
        ]
    )
    if runs:
        print(text)
    if profile_text:
        print("\n" + profile_text)
    report = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(
            [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]
        ),
        "machine": info,
        "settings": settings,
        "targets_met": all(r["met"] for r in rows if r["met"] is not None),
        "table": rows,
        "runs": runs,
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(text + "\n")
    say(f"report: {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
