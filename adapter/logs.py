"""Logging: structlog, one JSON object a line (or a console renderer for people).

Event names are stable and dotted (`webhook.received`, `event.delivered`, `event.failed`);
fields are flat. Each line of a webhook carries its context (receiver, group_key) as
fields passed where it is logged. Timestamps are ISO 8601 in UTC with microseconds
(`2026-12-01T11:11:40.828988Z`). The standard library's loggers (uvicorn's among them) go
through the same renderer.

At info there is a line per event, so the JSON path is kept short: one processor for the
level, the time and any exception, orjson to bytes, and `LineWriter`, which writes the lines
of one turn of the event loop with one write() instead of one each.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
import time
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

LEVELS = ("debug", "info", "warning", "error")

# Set by adapter/tracing.py while tracing is configured: adds the current span's trace_id and
# span_id to a line. None (no `tracing:` block) costs a line one test.
trace_context: Callable[[MutableMapping[str, Any]], None] | None = None


class UTCTimestamp:
    """structlog's TimeStamper(fmt="iso", utc=True), for less than half its cost: the date
    and time of day are formatted once a second, the microseconds on each line."""

    def __init__(self) -> None:
        self._cached = (-1, "")  # (second, its text): one tuple, so threads never mix them

    def __call__(
        self, _: Any, __: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        now = time.time()
        second = int(now)
        cached, prefix = self._cached
        if second != cached:
            prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            self._cached = (second, prefix)
        event_dict["timestamp"] = f"{prefix}{int((now - second) * 1e6):06d}Z"
        return event_dict


_LEVEL_OF = {"warn": "warning", "exception": "error"}  # as structlog's add_log_level


class Stamp:
    """add_log_level, UTCTimestamp and format_exc_info as one processor: a line per event
    at info goes through every processor, and each is a call."""

    def __init__(self) -> None:
        self._time = UTCTimestamp()
        self._exc = structlog.processors.format_exc_info

    def __call__(
        self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict["level"] = _LEVEL_OF.get(method, method)
        self._time(logger, method, event_dict)
        if "exc_info" in event_dict:
            self._exc(logger, method, event_dict)
        if trace_context is not None:
            trace_context(event_dict)
        return event_dict


class LineWriter:
    """structlog's BytesLogger, with the lines of one turn of the event loop written and
    flushed at its end, with one write(): a write() per line cost each event's log line a
    system call. A line waits at most for the current turn; outside a running loop, and from
    another thread, a line is written at once; whatever waits is written at exit."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self._lines: list[bytes] = []
        self._lock = threading.Lock()
        atexit.register(self.flush)

    def msg(self, message: bytes) -> None:
        with self._lock:
            self._lines.append(message)
            first = len(self._lines) == 1
        if first:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is None:
                self.flush()
            else:
                loop.call_soon(self.flush)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg

    def flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
            if lines:
                self._file.write(b"\n".join(lines) + b"\n")
                self._file.flush()


def _trace_ids(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if trace_context is not None:
        trace_context(event_dict)
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
            processors=[*shared, structlog.processors.format_exc_info, _trace_ids, renderer],
            wrapper_class=structlog.make_filtering_bound_logger(numeric),
            logger_factory=structlog.WriteLoggerFactory(sys.stderr),
            cache_logger_on_first_use=True,
        )
    else:
        # structlog's fast path: orjson straight to bytes. A line per event must stay cheap.
        writer = LineWriter(sys.stderr.buffer)
        structlog.configure(
            processors=[Stamp(), structlog.processors.JSONRenderer(serializer=orjson.dumps)],
            wrapper_class=structlog.make_filtering_bound_logger(numeric),
            logger_factory=lambda *_: writer,
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
