"""A stand-in of an OpenTelemetry collector: it takes OTLP trace exports and keeps the spans.

Two receivers into one store, as a collector has: OTLP/HTTP (`POST /v1/traces`, protobuf,
gzip or not; an ASGI app for tests/harness/server.py) and OTLP/gRPC (the proto's
TraceService on grpcio's server, on a free loopback port). Each export is decoded with
opentelemetry-proto's `ExportTraceServiceRequest`, as a collector decodes it; the raw bytes
are kept too, for the tests that look for a secret in whatever left the adapter.

Needs the extra `incident-adapter[tracing]` (opentelemetry-proto and grpcio come with it):
import this module after tests/harness/system.py require_extra().
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from tests.harness.server import free_port

KINDS = {
    trace_pb2.Span.SPAN_KIND_SERVER: "server",
    trace_pb2.Span.SPAN_KIND_CLIENT: "client",
    trace_pb2.Span.SPAN_KIND_INTERNAL: "internal",
}


@dataclass(frozen=True)
class Span:
    name: str
    kind: str
    trace_id: str  # hex, as in a traceparent
    span_id: str
    parent_span_id: str  # "" for a root span
    attributes: dict[str, Any]
    error: bool
    service: str


def _value(any_value: Any) -> Any:
    which = any_value.WhichOneof("value")
    return getattr(any_value, which) if which else None


class Collector:
    """The spans of every export received, by either protocol."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.exports: list[bytes] = []  # each request's body, decompressed
        self.headers: list[dict[str, str]] = []  # each request's headers (HTTP) or metadata
        self.lock = threading.Lock()

    def take(self, body: bytes, headers: dict[str, str]) -> None:
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(
                        Span(
                            name=span.name,
                            kind=KINDS.get(span.kind, str(span.kind)),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            error=span.status.code == trace_pb2.Status.STATUS_CODE_ERROR,
                            service=str(resource.get("service.name", "")),
                        )
                    )
        with self.lock:
            self.exports.append(body)
            self.headers.append(headers)
            self.spans.extend(spans)

    def of_kind(self, kind: str) -> list[Span]:
        with self.lock:
            return [s for s in self.spans if s.kind == kind]

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        """OTLP/HTTP: `POST /v1/traces` with a protobuf body."""
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["method"] != "POST" or scope["path"] != "/v1/traces":
            status, out = 404, b""
        elif headers.get("content-type") != "application/x-protobuf":
            status, out = 415, b""
        else:
            if headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            self.take(body, headers)
            status = 200
            out = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/x-protobuf"),
                    (b"content-length", b"%d" % len(out)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": out})


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def Export(self, request: Any, context: Any) -> Any:  # the proto names it
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        self.collector.take(request.SerializeToString(), metadata)
        return trace_service_pb2.ExportTraceServiceResponse()


class GrpcReceiver:
    """OTLP/gRPC into `collector`, plain text, on a free loopback port: `with` serves it."""

    def __init__(self, collector: Collector) -> None:
        self.port = free_port()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
            _TraceService(collector), self.server
        )
        self.server.add_insecure_port(f"127.0.0.1:{self.port}")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> GrpcReceiver:
        self.server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.stop(grace=1).wait(5)
