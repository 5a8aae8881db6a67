"""The small endpoints beside the webhook: health, readiness, metrics, reload, the landing
page and the docs. None is on the hot path; each finds the adapter's State on the app."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from adapter import __version__, landing
from adapter.config import ConfigError
from adapter.landing import Activity
from adapter.state import State
from adapter.webhook import error


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
    return Response(
        generate_latest(_state(request).metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


def _unauthorized(state: State) -> Response:
    return error(
        401, "missing or wrong credential", {"WWW-Authenticate": state.loaded.auth.challenge}
    )


async def reload(request: Request) -> Response:
    state = _state(request)
    if not state.loaded.auth.allows(request.headers.get("authorization")):
        return _unauthorized(state)
    try:
        await state.reload()
    except ConfigError as exc:
        return JSONResponse(
            {"error": "config not reloaded; the old one stays", "problems": exc.problems},
            status_code=400,
        )
    return JSONResponse({"status": "reloaded", "receivers": sorted(state.loaded.receivers)})


async def index(request: Request) -> Response:
    state = _state(request)
    kinds = {name: r.kind for name, r in state.loaded.receivers.items()}
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            {
                "name": "incident-adapter",
                "version": __version__,
                "receivers": {
                    name: {"type": kind, **state.activity.get(name, Activity()).as_json()}
                    for name, kind in kinds.items()
                },
            }
        )
    return HTMLResponse(landing.page(__version__, kinds, state.activity))


async def docs(_: Request) -> Response:
    text = landing.readme()
    if text is None:
        return error(404, "no README in this installation")
    return PlainTextResponse(text, media_type="text/markdown")
