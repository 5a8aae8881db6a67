"""The command line, Prometheus style (dotted flags), one module a subcommand:

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
import sys
from collections.abc import Sequence

from adapter.cli import check_config, render, serve, test

SUBCOMMANDS = (check_config, render, test)  # serve is the command without a subcommand


def parser() -> argparse.ArgumentParser:
    root = serve.parser()
    commands = root.add_subparsers(
        dest="command", metavar="[SUBCOMMAND]", title="subcommands (first, before any flag)"
    )
    for module in SUBCOMMANDS:
        module.add_to(commands).set_defaults(run=module.run)
    root.set_defaults(run=serve.run)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    root = parser()
    args = root.parse_args(argv)
    if args.command is not None and argv[0] != args.command:
        # The server's flags belong to no subcommand: a subcommand has flags of its own.
        root.error(f"{args.command}: the subcommand comes first, before its flags")
    run: int = args.run(args)
    return run
