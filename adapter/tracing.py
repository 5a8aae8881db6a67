"""Tracing: spans of the webhook and of each upstream request, exported over OTLP.

    install(settings)       at start and on every reload: build, swap, shut the old one down
    active                  the Tracer in force, or None (no `tracing:` block)
    stop()                  at the end: flush what is left, shut down

Off (no `tracing:` block, adapter/config/tracing.py), `active` is None: the hot path's hooks
(adapter/app.py, adapter/webhook.py, adapter/delivery.py) test it and do nothing else, and the
OpenTelemetry SDK, the extra `incident-adapter[tracing]`, is never imported. On, as
Alertmanager's tracing does:

    POST /alerts/{receiver}   kind SERVER, continues the caller's W3C `traceparent`
                              (Alertmanager 0.25+ sends one when its own tracing is on);
                              receiver, alert count, the status answered
      {METHOD} {dialect}      kind CLIENT, one per upstream request (retries included):
                              dialect, receiver, action, dedup key, host, the last upstream
                              status, attempts, verdict; its `traceparent` goes with the
                              request

A span never holds a secret: no URL (a path or a query may carry a routing key), only the
host; no header, no body. The dedup key is there as it is in every event log line: it is made
from labels, never from a credential. While a sampled span is current, log lines carry its
`trace_id` and `span_id` (adapter/logs.py).

Sampling is Alertmanager's: a parent's decision is kept; a trace the adapter starts itself is
sampled with `sampling_fraction` (0 by default: only the traces a caller sampled).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

import structlog

from adapter import __version__, logs
from adapter.config.tracing import TracingSettings
from adapter.events import UpstreamRequest, Verdict

if TYPE_CHECKING:  # the SDK is imported when a Tracer is made, never for a config without one
    from opentelemetry.sdk.trace import TracerProvider

    from adapter.pipeline import Delivery, Receiver

log = structlog.get_logger("adapter.tracing")

SERVICE_NAME = "incident-adapter"
# BatchSpanProcessor's wait before a batch goes (its default is 5 s): short, so a span is at
# the collector about when the webhook's log line is written.
SCHEDULE_DELAY_MS = 1000
# What stop() and a reload give the old provider to send what it holds.
SHUTDOWN_SECONDS = 5.0


class Outcome(Protocol):
    """What the span of a request reads of its result (adapter/delivery.py's Result, which
    imports this module: named by its shape, not imported)."""

    status: int | None
    attempts: int
    verdict: Verdict


R = TypeVar("R", bound=Outcome)
# ASGI's, as adapter/bodies.py names them (the edge, above this layer).
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Tracer:
    """One TracerProvider with its exporter, made from a `tracing:` block."""

    def __init__(self, settings: TracingSettings) -> None:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.settings = settings
        self.provider: TracerProvider = TracerProvider(
            resource=Resource.create(
                {"service.name": SERVICE_NAME, "service.version": __version__}
            ),
            sampler=ParentBased(TraceIdRatioBased(settings.sampling_fraction)),
        )
        self.provider.add_span_processor(
            BatchSpanProcessor(_exporter(settings), schedule_delay_millis=SCHEDULE_DELAY_MS)
        )
        self.tracer = self.provider.get_tracer("adapter", __version__)
        self.propagator = TraceContextTextMapPropagator()
        self._server, self._client = trace.SpanKind.SERVER, trace.SpanKind.CLIENT
        self._current_span = trace.get_current_span
        self._error = trace.Status(trace.StatusCode.ERROR)

    async def webhook(
        self,
        app: Callable[[Scope, Receive, Send, str], Awaitable[None]],
        scope: Scope,
        receive: Receive,
        send: Send,
        receiver: str,
    ) -> None:
        """The webhook `app`, in a SERVER span that continues the caller's `traceparent`."""
        carrier = {
            "traceparent" if name == b"traceparent" else "tracestate": value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        route = "/alerts/{receiver}" if receiver else "/alerts"
        with self.tracer.start_as_current_span(
            f"POST {route}",
            context=self.propagator.extract(carrier) if carrier else None,
            kind=self._server,
            attributes={"http.request.method": "POST", "http.route": route},
        ) as span:
            if receiver:  # as the path has it, cut as a refusal cuts it: it may be no receiver
                span.set_attribute("incident_adapter.receiver", receiver[:100])

            async def answered(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(self._error)
                await send(message)

            await app(scope, receive, answered, receiver)

    def webhook_read(self, receiver: str, alerts: int) -> None:
        """What the webhook learnt from its payload, on its span."""
        span = self._current_span()
        span.set_attribute("incident_adapter.receiver", receiver)
        span.set_attribute("incident_adapter.alerts", alerts)

    async def upstream(
        self,
        send: Callable[..., Awaitable[tuple[R, bytes]]],
        receiver: Receiver,
        request: UpstreamRequest,
        priority: int,
        deadline: float,
        delivery: Delivery,
    ) -> tuple[R, bytes]:
        """One upstream request (all its attempts) in a CLIENT span, `traceparent` sent."""
        first = delivery.events[0]
        with self.tracer.start_as_current_span(
            f"{request.method} {receiver.kind}",
            kind=self._client,
            attributes={
                "incident_adapter.dialect": receiver.kind,
                "incident_adapter.receiver": receiver.name,
                "incident_adapter.action": first.action,
                "incident_adapter.dedup_key": first.dedup_key,
                "incident_adapter.alerts": len(delivery.events),
                "http.request.method": request.method,
                # The host alone: the path or the query of some APIs holds a routing key.
                "server.address": urlsplit(request.url).hostname or "",
            },
        ) as span:
            headers = dict(request.headers)
            self.propagator.inject(headers)
            result, body = await send(
                receiver,
                dataclasses.replace(request, headers=headers),
                priority,
                deadline,
                delivery,
            )
            if result.status is not None:
                span.set_attribute("http.response.status_code", result.status)
            span.set_attribute("incident_adapter.attempts", result.attempts)
            span.set_attribute("incident_adapter.verdict", result.verdict.value)
            if result.verdict is not Verdict.DELIVERED:
                span.set_status(self._error)
            return result, body

    def ids(self, event_dict: MutableMapping[str, Any]) -> None:
        """trace_id and span_id of the current span, if sampled, on a log line."""
        context = self._current_span().get_span_context()
        if context.trace_flags.sampled:
            event_dict["trace_id"] = format(context.trace_id, "032x")
            event_dict["span_id"] = format(context.span_id, "016x")

    def shutdown(self) -> None:
        """Send what is held (within SHUTDOWN_SECONDS), then stop; blocking: run in a thread."""
        self.provider.force_flush(int(SHUTDOWN_SECONDS * 1000))
        self.provider.shutdown()


def _exporter(settings: TracingSettings) -> Any:
    headers = {name: value.reveal() for name, value in settings.headers.items()}
    tls = None if settings.insecure else settings.tls_config
    if settings.client_type == "http":
        import requests
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HTTPExporter,
        )

        scheme = "http" if settings.insecure else "https"
        session = requests.Session()
        if tls is not None and tls.insecure_skip_verify:
            session.verify = False
        return HTTPExporter(
            endpoint=f"{scheme}://{settings.endpoint}/v1/traces",
            certificate_file=str(tls.ca_file) if tls and tls.ca_file else None,
            client_certificate_file=str(tls.cert_file) if tls and tls.cert_file else None,
            client_key_file=str(tls.key_file) if tls and tls.key_file else None,
            headers=headers,
            timeout=settings.timeout,
            compression=Compression.Gzip if settings.compression else Compression.NoCompression,
            session=session,
        )
    import grpc  # type: ignore[import-untyped]  # grpcio ships no annotations
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GRPCExporter,
    )

    credentials = options = None
    if tls is not None:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=tls.ca_file.read_bytes() if tls.ca_file else None,
            private_key=tls.key_file.read_bytes() if tls.key_file else None,
            certificate_chain=tls.cert_file.read_bytes() if tls.cert_file else None,
        )
        if tls.server_name:
            options = (("grpc.ssl_target_name_override", tls.server_name),)
    return GRPCExporter(
        endpoint=settings.endpoint,
        insecure=settings.insecure,
        credentials=credentials,
        headers={name.lower(): value for name, value in headers.items()},  # gRPC metadata
        timeout=settings.timeout,
        compression=grpc.Compression.Gzip if settings.compression else None,
        channel_options=options,
    )


active: Tracer | None = None


def install(settings: TracingSettings | None) -> Tracer | None:
    """Put the Tracer for `settings` in force (None: tracing off); returns the one it
    replaced, for the caller to shut down (Tracer.shutdown, in a thread). A `tracing:` block
    equal to the one in force keeps it, unless it has a tls_config: as Alertmanager, that is
    rebuilt, so a reload picks up rotated certificates."""
    global active
    old = active
    if settings is None:
        if old is None:
            return None
        active = None
        logs.trace_context = None
        log.info("tracing.stopped")
        return old
    if old is not None and old.settings == settings and settings.tls_config is None:
        return None
    active = Tracer(settings)
    logs.trace_context = active.ids
    log.info(
        "tracing.started",
        client_type=settings.client_type,
        endpoint=settings.endpoint,
        sampling_fraction=settings.sampling_fraction,
    )
    return old
