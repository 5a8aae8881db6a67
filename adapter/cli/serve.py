"""`incident-adapter [flags]`: serve webhooks (the command without a subcommand)."""

from __future__ import annotations

import argparse
import sys

from adapter import __version__
from adapter.cli.common import DEFAULT_LISTEN, env, split_address, web_guards
from adapter.config.loader import DEFAULT_SOURCE, ConfigError, load_config
from adapter.logs import LEVELS


def parser() -> argparse.ArgumentParser:
    """The root parser: the server's flags; the subcommands are added to it by adapter.cli."""
    parser = argparse.ArgumentParser(
        prog="incident-adapter",
        description="Alertmanager webhooks in, one incident event per alert out.",
        epilog="Subcommands: check-config PATH..., render --config.file=PATH PAYLOAD.json, "
        "test --config.file=PATH --receiver=NAME",
    )
    parser.add_argument(
        "--config.file",
        dest="config_file",
        default=env("CONFIG_FILE", None),
        help="YAML config; without it, the embedded default (a `log` receiver)",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen",
        default=env("WEB_LISTEN_ADDRESS", DEFAULT_LISTEN),
        help=f"HOST:PORT to serve on (default {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        default=env("WEB_CONFIG_FILE", None),
        help="TLS / mutual TLS, basic auth and response headers for the listener, in "
        "exporter-toolkit's web-config format",
    )
    parser.add_argument(
        "--web.external-url",
        dest="external_url",
        default=env("WEB_EXTERNAL_URL", None),
        help="the URL under which the adapter is reachable (behind a proxy: "
        "https://ops.example.com/incident-adapter/); the page's links start with it, and its "
        "path is the default route prefix",
    )
    parser.add_argument(
        "--web.route-prefix",
        dest="route_prefix",
        default=env("WEB_ROUTE_PREFIX", None),
        help="prefix of every endpoint (default: the path of --web.external-url, else /); "
        "/-/healthy, /-/ready and /metrics also answer at the root",
    )
    parser.add_argument(
        "--log.level", dest="log_level", choices=LEVELS, default=env("LOG_LEVEL", "info")
    )
    parser.add_argument(
        "--log.format",
        dest="log_format",
        choices=("json", "console"),
        default=env("LOG_FORMAT", "json"),
    )
    parser.add_argument("--version", action="version", version=f"incident-adapter {__version__}")
    return parser


def run(args: argparse.Namespace) -> int:
    from adapter import logs

    logs.configure(args.log_level, args.log_format)
    from adapter.edge import WebPaths
    from adapter.server import load_web_config

    try:
        host, port = split_address(args.listen)
        web = load_web_config(args.web_config_file) if args.web_config_file else None
        paths = WebPaths.from_flags(args.external_url, args.route_prefix)
    except ValueError as exc:
        print(f"incident-adapter: {exc}", file=sys.stderr)
        return 2

    import structlog

    from adapter.app import create_app
    from adapter.edge import Edge
    from adapter.server import serve as run_server

    try:
        config = load_config(args.config_file)
        guarded = web_guards(web, config.auth.enabled, args.config_file or DEFAULT_SOURCE)
        # everything the config implies, checked as check-config and a reload check it; a
        # listener behind the web config's basic auth is guarded whatever its address
        app = create_app(
            config,
            config_path=args.config_file,
            listen_host=None if guarded else host,
            web_users=guarded,  # and a reload that adds auth: is refused, as a start is
        )
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        return 1
    structlog.get_logger("adapter").info(
        "adapter.starting",
        listen=f"{host}:{port}",
        config=args.config_file or DEFAULT_SOURCE,
        tls=web is not None and web.tls_server_config is not None,
        basic_auth=guarded,
        route_prefix=paths.route_prefix,
        external_url=paths.external_url or None,
    )
    edge = Edge.around(app, paths, web)
    run_server(app, host, port, web, config.limits.max_header_bytes, asgi=edge)
    return 0
