"""`incident-adapter render --config.file=PATH PAYLOAD.json|-`: the requests a webhook payload
would make, as JSON on stdout, secrets redacted; nothing is sent."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from adapter.cli.common import env
from adapter.config.loader import ConfigError, load_config
from adapter.events import UpstreamRequest


def add_to(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "render",
        prog="incident-adapter render",
        help="print the requests a payload would make, secrets redacted",
    )
    parser.add_argument("--config.file", dest="config_file", default=env("CONFIG_FILE", None))
    parser.add_argument("--receiver", help="render for this receiver (default: the payload's)")
    parser.add_argument("payload", help="a webhook payload file, or - for standard input")
    return parser


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


def run(args: argparse.Namespace) -> int:
    from adapter import logs
    from adapter.payload import PayloadError, parse_payload
    from adapter.pipeline import plan, receivers_from
    from adapter.secrets import scrub

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
