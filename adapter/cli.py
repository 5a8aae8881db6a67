"""The command line, Prometheus style (dotted flags):

    incident-adapter [--config.file=PATH] [--web.listen-address=HOST:PORT]
                     [--web.config.file=PATH] [--log.level=...] [--log.format=json|console]
    incident-adapter check-config [--web.listen-address=HOST:PORT] [--web.config.file=PATH] PATH...
    incident-adapter render --config.file=PATH [--receiver=NAME] PAYLOAD.json|-
    incident-adapter test --config.file=PATH [--receiver=NAME] [--resolve-after=30s]
                          [--severity=info] [--label=NAME=VALUE]...
    incident-adapter --version

`test` sends one test incident (alertname IncidentAdapterTest) through the receiver's real
path, prints the API's answer, waits, resolves it and prints that answer: exit 0 when both
were accepted, 1 when not, 2 on a usage error (as check-config). docs/testing-a-receiver.md.

Each flag may also come from the environment: INCIDENT_ADAPTER_CONFIG_FILE,
INCIDENT_ADAPTER_WEB_LISTEN_ADDRESS, INCIDENT_ADAPTER_WEB_CONFIG_FILE,
INCIDENT_ADAPTER_LOG_LEVEL, INCIDENT_ADAPTER_LOG_FORMAT.
A flag on the command line wins.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from adapter import __version__
from adapter.config.loader import DEFAULT_SOURCE, ConfigError, load_config
from adapter.events import UpstreamRequest
from adapter.logs import LEVELS

DEFAULT_LISTEN = "127.0.0.1:9095"

ENV = "INCIDENT_ADAPTER_"


def _env(name: str, default: str | None) -> str | None:
    return os.environ.get(ENV + name, default)


def _server_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="incident-adapter",
        description="Alertmanager webhooks in, one incident event per alert out.",
        epilog="Subcommands: check-config PATH..., render --config.file=PATH PAYLOAD.json, "
        "test --config.file=PATH --receiver=NAME",
    )
    parser.add_argument(
        "--config.file",
        dest="config_file",
        default=_env("CONFIG_FILE", None),
        help="YAML config; without it, the embedded default (a `log` receiver)",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen",
        default=_env("WEB_LISTEN_ADDRESS", DEFAULT_LISTEN),
        help=f"HOST:PORT to serve on (default {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        default=_env("WEB_CONFIG_FILE", None),
        help="TLS / mutual TLS for the listener, in exporter-toolkit's web-config format",
    )
    parser.add_argument(
        "--log.level", dest="log_level", choices=LEVELS, default=_env("LOG_LEVEL", "info")
    )
    parser.add_argument(
        "--log.format",
        dest="log_format",
        choices=("json", "console"),
        default=_env("LOG_FORMAT", "json"),
    )
    parser.add_argument("--version", action="version", version=f"incident-adapter {__version__}")
    return parser


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--web.listen-address {address!r} must be HOST:PORT, e.g. 127.0.0.1:9095")
    return host.strip("[]") or "0.0.0.0", int(port)


def _check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="incident-adapter check-config",
        description="Check config files as the adapter would use them: every problem at "
        "once, each with its path; exit 1 on any. The credentials are checked against the "
        "listen address, as at start.",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen",
        default=_env("WEB_LISTEN_ADDRESS", DEFAULT_LISTEN),
        help=f"where the adapter will listen (default {DEFAULT_LISTEN}, or "
        "INCIDENT_ADAPTER_WEB_LISTEN_ADDRESS)",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        default=_env("WEB_CONFIG_FILE", None),
        help="the listener's TLS web config to check too",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH")
    return parser


def check_config(argv: Sequence[str]) -> int:
    import structlog

    from adapter.server import load_web_config
    from adapter.state import build

    args = _check_parser().parse_args(argv)
    if not structlog.is_configured():
        # warnings (a byte-order mark dropped from a secret file) beside the report, on stderr
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    try:
        host, _ = split_address(args.listen)
        if args.web_config_file:
            load_web_config(args.web_config_file)
    except ValueError as exc:
        print(f"incident-adapter check-config: {exc}", file=sys.stderr)
        return 1
    failed = False
    for path in args.paths:
        try:
            config = load_config(path)
            build(config, path, host=host)
        except ConfigError as exc:
            failed = True
            print(f"Checking '{path}'  FAILED", file=sys.stderr)
            print(exc.report(), file=sys.stderr)
            continue
        print(f"Checking '{path}'  SUCCESS")
        print(f"Found:\n - {len(config.receivers)} receivers")
        for receiver in config.receivers:
            print(f"   - {receiver.name} ({getattr(receiver, 'type', '?')})")
    return 1 if failed else 0


def _shown(request: UpstreamRequest) -> dict[str, object]:
    text = request.body.decode()
    try:
        body: object = json.loads(text)
    except ValueError:
        body = text
    return {
        "method": request.method,
        "url": request.url,
        "headers": dict(request.headers),
        "body": body,
    }


def _render(argv: Sequence[str]) -> int:
    from adapter import logs
    from adapter.payload import PayloadError, parse_payload
    from adapter.pipeline import plan, receivers_from
    from adapter.secrets import scrub

    parser = argparse.ArgumentParser(prog="incident-adapter render")
    parser.add_argument("--config.file", dest="config_file", default=_env("CONFIG_FILE", None))
    parser.add_argument("--receiver", help="render for this receiver (default: the payload's)")
    parser.add_argument("payload", help="a webhook payload file, or - for standard input")
    args = parser.parse_args(argv)
    # stdout is the JSON; what a dialect logs while its chain is followed for show (e.g.
    # "nothing open") would be about a made-up answer: only warnings, and on stderr.
    logs.configure("warning", "console")
    try:
        config = load_config(args.config_file)
        raw = sys.stdin.buffer.read() if args.payload == "-" else open(args.payload, "rb").read()  # noqa: SIM115
        payload = parse_payload(raw)
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot read {args.payload}: {exc.strerror}", file=sys.stderr)
        return 1
    except PayloadError as exc:
        print(f"{args.payload}: {exc.reason}", file=sys.stderr)
        return 1
    receivers = receivers_from(config.receivers, config.delivery)
    name = args.receiver or payload.receiver.replace("\\", "")
    receiver = receivers.get(name) or (
        next(iter(receivers.values())) if len(receivers) == 1 else None
    )
    if receiver is None:
        print(
            f"no receiver named {name!r}; pass --receiver (one of {', '.join(receivers)})",
            file=sys.stderr,
        )
        return 1
    the_plan = plan(receiver, payload)
    secrets = config.secret_values()
    out = []
    failed = False
    for delivery in the_plan.deliveries:
        request = delivery.request
        if request is None:
            failed = True
            print(f"{delivery.events[0].dedup_key}: {delivery.error}", file=sys.stderr)
            continue
        shown = _shown(request)
        # A chained API's next steps depend on its answers; show them as they would go
        # if the first answer were empty (for a status page: nothing open yet).
        chain = []
        empty = receiver.integration.nothing_open
        follow = request.then(empty) if request.then else None
        while follow is not None:
            chain.append(_shown(follow))
            follow = follow.then(empty) if follow.then else None
        out.append(
            {
                "alerts": [e.alert.fingerprint for e in delivery.events],
                "dedup_key": delivery.events[0].dedup_key,
                # alerts sharing a key are one incident, open while any of them fires
                "action": "trigger"
                if any(e.action == "trigger" for e in delivery.events)
                else "resolve",
                **shown,
                **({"then_if_nothing_is_open": chain} if chain else {}),
            }
        )
    filtered = [a.fingerprint for a in the_plan.filtered]
    text = json.dumps(
        {"receiver": receiver.name, "requests": out, "filtered": filtered},
        indent=2,
        ensure_ascii=False,
    )
    print(scrub(text, secrets))
    return 1 if failed else 0


def _test(argv: Sequence[str]) -> int:
    import asyncio

    from adapter.durations import parse_duration
    from adapter.pipeline import receivers_from
    from adapter.secrets import scrub
    from adapter.severity import SEVERITIES
    from adapter.testalert import DEFAULT_SEVERITY, Probe, run

    parser = argparse.ArgumentParser(
        prog="incident-adapter test",
        description="Send a test incident through a receiver, then resolve it.",
    )
    parser.add_argument("--config.file", dest="config_file", default=_env("CONFIG_FILE", None))
    parser.add_argument("--receiver", help="the receiver to test (needed when there are several)")
    parser.add_argument(
        "--resolve-after",
        default="30s",
        help="how long the test incident stays open, e.g. 30s, 2m; 0 resolves at once",
    )
    parser.add_argument("--severity", choices=SEVERITIES, default=DEFAULT_SEVERITY)
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra label on the test alert, e.g. one the receiver's matchers need",
    )
    parser.add_argument(
        "--log.level",
        dest="log_level",
        choices=LEVELS,
        default="error",
        help="the adapter's own log on stderr (default error: the answers are printed anyway)",
    )
    args = parser.parse_args(argv)
    from adapter import logs

    logs.configure(args.log_level, "console")
    try:
        resolve_after = parse_duration(args.resolve_after)
        labels = dict(_label(text) for text in args.label)
    except ValueError as exc:
        print(f"incident-adapter test: {exc}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config_file)
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        return 1
    receivers = receivers_from(config.receivers, config.delivery)
    name = args.receiver or (next(iter(receivers)) if len(receivers) == 1 else None)
    if name is None or name not in receivers:
        what = f"no receiver named {name!r}" if name else "several receivers"
        print(
            f"incident-adapter test: {what}; pass --receiver (one of {', '.join(receivers)})",
            file=sys.stderr,
        )
        return 2
    secrets = config.secret_values()

    def say(text: str) -> None:
        print(scrub(text, secrets), flush=True)

    probe = Probe.for_receiver(receivers[name], args.severity, labels)
    return asyncio.run(run(probe, resolve_after, say))


def _label(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"--label {text!r} must be NAME=VALUE, e.g. service=api")
    return name.strip(), value


def serve(argv: Sequence[str]) -> int:
    args = _server_parser().parse_args(argv)
    from adapter import logs

    logs.configure(args.log_level, args.log_format)
    from adapter.server import load_web_config

    try:
        host, port = split_address(args.listen)
        web = load_web_config(args.web_config_file) if args.web_config_file else None
    except ValueError as exc:
        print(f"incident-adapter: {exc}", file=sys.stderr)
        return 2

    import structlog

    from adapter.app import create_app
    from adapter.server import serve as run_server

    try:
        config = load_config(args.config_file)
        # everything the config implies, checked as check-config and a reload check it
        app = create_app(config, config_path=args.config_file, listen_host=host)
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        return 1
    structlog.get_logger("adapter").info(
        "adapter.starting",
        listen=f"{host}:{port}",
        config=args.config_file or DEFAULT_SOURCE,
        tls=web is not None and web.tls_server_config is not None,
    )
    run_server(app, host, port, web, config.limits.max_header_bytes)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "check-config":
        return check_config(argv[1:])
    if argv and argv[0] == "render":
        return _render(argv[1:])
    if argv and argv[0] == "test":
        return _test(argv[1:])
    return serve(argv)
