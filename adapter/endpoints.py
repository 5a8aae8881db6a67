"""The small endpoints beside the webhook: health, readiness, metrics, reload, the landing
page, the docs and the test incident. None is on the hot path; each finds the adapter's
State on the app.

POST /-/test/{receiver} sends a test incident (adapter/testalert.py) and shows what the
incident API answered. It needs the inbound credential, checked by the same Authenticator
as webhooks, in one of two ways, never both:

    a form (the landing page's, application/x-www-form-urlencoded): the `token` field
    JSON (curl, scripts): the Authorization header, Content-Type: application/json

The form's token field is also the defence against cross-site request forgery: the adapter
sets no cookie and a form on another site cannot know the token. A browser that cached
basic-auth credentials attaches them to any request, but a form's Authorization header is
not looked at, and a cross-site request with Content-Type: application/json needs a CORS
preflight, which this adapter never grants.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from urllib.parse import parse_qs

import orjson
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from adapter import __version__, landing
from adapter.activity import Activity, with_shared
from adapter.auth import Authenticator
from adapter.bodies import ClientGone, error, is_json, read_body
from adapter.config.loader import ConfigError
from adapter.durations import parse_duration
from adapter.edge import link_base
from adapter.state import State
from adapter.testalert import Probe, ProbeStep

log = structlog.get_logger("adapter.app")

FORM_LIMIT = 4096  # bytes: a token and a choice
TEST_WAIT_MAX = 5.0  # seconds the page waits between trigger and resolve, at most


def _state(request: Request) -> State:
    state: State = request.app.state.adapter
    return state


async def healthy(_: Request) -> Response:
    return JSONResponse({"status": "healthy"})


async def ready(request: Request) -> Response:
    if _state(request).ready:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not ready"}, status_code=503)


async def metrics(request: Request) -> Response:
    state = _state(request)
    if _refused(request, state, "metrics"):
        return _unauthorized(state)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _unauthorized(state: State) -> Response:
    return error(
        401, "missing or wrong credential", {"WWW-Authenticate": state.loaded.auth.challenge}
    )


def _refused(request: Request, state: State, page: str) -> bool:
    """Whether `page` is behind the credential (auth.protect) and the request lacks it."""
    auth = state.loaded.auth
    return auth.guards(page) and not auth.allows(request.headers.get("authorization"))


async def reload(request: Request) -> Response:
    state = _state(request)
    if not state.loaded.auth.allows(request.headers.get("authorization")):
        return _unauthorized(state)
    try:
        await state.reload()
    except ConfigError as exc:
        # 400: the config is wrong; 500: the adapter is (a bug), named but never traced
        return JSONResponse(
            {"error": "config not reloaded; the old one stays", "problems": exc.problems},
            status_code=500 if exc.unexpected else 400,
        )
    return JSONResponse({"status": "reloaded", "receivers": sorted(state.loaded.receivers)})


async def index(request: Request) -> Response:
    state = _state(request)
    if _refused(request, state, "landing"):
        return _unauthorized(state)
    kinds = {name: r.kind for name, r in state.loaded.receivers.items()}
    # What upstreams said only for a reader with the credential (adapter/landing.py).
    detailed = state.loaded.auth.allows(request.headers.get("authorization"))
    activity = state.activity
    shared = state.deliverer.shared if state.deliverer is not None else None
    if shared is not None and (histories := await shared.history(kinds)) is not None:
        activity = with_shared(activity, histories)  # every replica's deliveries
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            {
                "name": "incident-adapter",
                "version": __version__,
                "receivers": {
                    name: {
                        "type": kind,
                        **activity.get(name, Activity()).as_json(detailed),
                    }
                    for name, kind in kinds.items()
                },
            }
        )
    return HTMLResponse(
        landing.page(
            __version__,
            kinds,
            activity,
            state.loaded.auth.enabled,
            detailed,
            base=link_base(request.scope),
        )
    )


async def docs(_: Request) -> Response:
    text = landing.readme()
    if text is None:
        return error(404, "no README in this installation")
    return PlainTextResponse(text, media_type="text/markdown")


def _form_allows(auth: Authenticator, token: str) -> bool:
    """The form's token as a bearer token, or `user:password` for basic auth."""
    if not auth.enabled:
        return True
    ok = auth.allows("Bearer " + token)
    if ":" in token:
        ok |= auth.allows("Basic " + base64.b64encode(token.encode()).decode())
    return ok


def _wait(text: str) -> float:
    seconds = float(text) if text.replace(".", "", 1).isdigit() else parse_duration(text)
    if not 0 <= seconds <= TEST_WAIT_MAX or math.isnan(seconds):
        raise ValueError(f"resolve_after must be between 0 and {TEST_WAIT_MAX:g}s, not {text!r}")
    return seconds


async def test_incident(request: Request) -> Response:
    """Send a test incident through a receiver, resolve it, show both answers."""
    state = _state(request)
    loaded = state.loaded
    content_type = request.headers.get("content-type", "")
    as_form = content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"
    if not as_form and not is_json(content_type):
        return error(
            415,
            "send the landing page's form, or JSON (Content-Type: application/json) with "
            "Authorization: Bearer <token>",
        )
    try:
        body = await read_body(request.receive, request.headers.get("content-length"), FORM_LIMIT)
    except ClientGone:
        return error(400, "the client went away before the body was complete")
    if body is None:
        return error(413, f"body over {FORM_LIMIT} bytes")
    html_page = as_form and "application/json" not in request.headers.get("accept", "")
    if as_form:
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        allowed = _form_allows(loaded.auth, fields.get("token", [""])[0])
        wait_text = fields.get("resolve_after", ["0"])[0]
    else:
        allowed = loaded.auth.allows(request.headers.get("authorization"))
        try:
            doc = orjson.loads(body) if body.strip() else {}
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("resolve_after", "0"), str):
            return error(400, 'send a JSON object, e.g. {"resolve_after": "2s"}')
        wait_text = doc.get("resolve_after", "0")
    if not allowed:
        log.warning("test.refused", code=401, reason="missing or wrong credential")
        if html_page:
            # A Basic challenge would make the browser ask for a password the form then
            # ignores; the form's field takes a token, so the challenge names Bearer.
            return HTMLResponse(
                landing.refused_page(
                    "Missing or wrong credential: nothing was sent.", link_base(request.scope)
                ),
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="incident-adapter"'},
            )
        return _unauthorized(state)
    name = request.path_params["receiver"]
    receiver = loaded.receivers.get(name)
    if receiver is None:
        return error(404, f"no receiver named {name[:100]!r}")
    try:
        wait = _wait(wait_text)
    except ValueError as exc:
        return error(400, str(exc))
    assert state.deliverer is not None, "the lifespan starts the deliverer"
    probe = Probe.for_receiver(receiver)
    seen = state.activity.get(name)
    if seen is None:
        seen = state.activity[name] = Activity()
    answers: list[ProbeStep] = []
    for firing in (True, False):
        if not firing and answers[0].accepted:
            await asyncio.sleep(wait)
        answer, outcomes = await probe.send(state.deliverer, firing)
        seen.record(time.time(), outcomes)
        answers.append(answer)
    accepted = all(a.accepted for a in answers)
    log.info(
        "test.sent",
        receiver=name,
        dedup_key=answers[0].dedup_key,
        trigger=answers[0].outcome,
        resolve=answers[1].outcome,
    )
    status = 200 if accepted else 502
    if html_page:
        return HTMLResponse(
            landing.result_page(
                name,
                receiver.kind,
                answers,
                seen,
                loaded.auth.enabled,
                probe.host,
                base=link_base(request.scope),
            ),
            status_code=status,
        )
    return JSONResponse(
        {
            "receiver": name,
            "accepted": accepted,
            "host": probe.host,
            "trigger": answers[0].as_json(),
            "resolve": answers[1].as_json(),
        },
        status_code=status,
    )
