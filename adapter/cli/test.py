"""`incident-adapter test --config.file=PATH [--receiver=NAME]`: one test incident through the
receiver's real path, its answer printed, resolved after a while and that answer printed:
exit 0 when both were accepted, 1 when not, 2 on a usage error (docs/testing-a-receiver.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from adapter.cli.common import env
from adapter.config.loader import ConfigError, load_config
from adapter.logs import LEVELS
from adapter.severity import SEVERITIES
from adapter.testalert import DEFAULT_SEVERITY


def add_to(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "test",
        prog="incident-adapter test",
        help="send a test incident through a receiver, then resolve it",
        description="Send a test incident through a receiver, then resolve it.",
    )
    parser.add_argument("--config.file", dest="config_file", default=env("CONFIG_FILE", None))
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
    return parser


def run(args: argparse.Namespace) -> int:
    import asyncio

    from adapter import logs
    from adapter.durations import parse_duration
    from adapter.pipeline import receivers_from
    from adapter.secrets import scrub
    from adapter.testalert import Probe
    from adapter.testalert import run as send

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
    return asyncio.run(send(probe, resolve_after, say))


def _label(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"--label {text!r} must be NAME=VALUE, e.g. service=api")
    return name.strip(), value
