"""Logging: structlog, one JSON object a line (or a console renderer for people).

Event names are stable and dotted (`webhook.received`, `event.delivered`, `event.failed`);
fields are flat. Each line of a webhook carries its context (receiver, group_key) as
fields passed where it is logged. Timestamps are ISO 8601 in UTC with microseconds
(`2026-12-01T11:11:40.828988Z`). The standard library's loggers (uvicorn's among them) go
through the same renderer.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

LEVELS = ("debug", "info", "warning", "error")


class UTCTimestamp:
    """structlog's TimeStamper(fmt="iso", utc=True), for less than half its cost: the date
    and time of day are formatted once a second, the microseconds on each line."""

    def __init__(self) -> None:
        self._cached = (-1, "")  # (second, its text): one tuple, so threads never mix them

    def __call__(self, _: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        second = int(now)
        cached, prefix = self._cached
        if second != cached:
            prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            self._cached = (second, prefix)
        event_dict["timestamp"] = f"{prefix}{int((now - second) * 1e6):06d}Z"
        return event_dict


def configure(level: str = "info", fmt: str = "json") -> None:
    numeric = getattr(logging, level.upper())
    shared: list[Any] = [structlog.processors.add_log_level, UTCTimestamp()]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    if fmt == "console":
        structlog.configure(
            processors=[*shared, structlog.processors.format_exc_info, renderer],
            wrapper_class=structlog.make_filtering_bound_logger(numeric),
            logger_factory=structlog.WriteLoggerFactory(sys.stderr),
            cache_logger_on_first_use=True,
        )
    else:
        # structlog's fast path: orjson straight to bytes. A line per event must stay cheap.
        structlog.configure(
            processors=[
                *shared,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(serializer=orjson.dumps),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(numeric),
            logger_factory=structlog.BytesLoggerFactory(sys.stderr.buffer),
            cache_logger_on_first_use=True,
        )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # webhook.* lines say more
