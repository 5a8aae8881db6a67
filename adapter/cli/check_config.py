"""`incident-adapter check-config PATH...`: every problem of each config at once, each with
its path; the credentials checked against the listen address, as at start."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from adapter.cli.common import DEFAULT_LISTEN, env, split_address, web_guards
from adapter.config.loader import ConfigError, load_config


def add_to(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "check-config",
        prog="incident-adapter check-config",
        help="check config files, every problem at once",
        description="Check config files as the adapter would use them: every problem at "
        "once, each with its path; exit 1 on any. The credentials are checked against the "
        "listen address, as at start.",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen",
        default=env("WEB_LISTEN_ADDRESS", DEFAULT_LISTEN),
        help=f"where the adapter will listen (default {DEFAULT_LISTEN}, or "
        "INCIDENT_ADAPTER_WEB_LISTEN_ADDRESS)",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        default=env("WEB_CONFIG_FILE", None),
        help="the listener's web config (TLS, basic_auth_users, http_server_config) to check "
        "too, and with each config",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH")
    return parser


def run(args: argparse.Namespace) -> int:
    import structlog

    from adapter.server import load_web_config
    from adapter.state import build

    if not structlog.is_configured():
        # warnings (a byte-order mark dropped from a secret file) beside the report, on stderr
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    web = None
    try:
        host, _ = split_address(args.listen)
        if args.web_config_file:
            web = load_web_config(args.web_config_file)
    except ValueError as exc:
        print(f"incident-adapter check-config: {exc}", file=sys.stderr)
        return 1
    failed = False
    for path in args.paths:
        try:
            config = load_config(path)
            guarded = web_guards(web, config.auth.enabled, path)
            build(config, path, host=None if guarded else host)
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
