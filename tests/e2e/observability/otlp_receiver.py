"""A tiny OTLP/HTTP trace receiver: decodes the protobuf the real exporters send, in memory."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

Attrs = dict[str, Any]


@dataclass(frozen=True)
class Received:
    """One span as a collector would store it."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root span
    kind: int  # opentelemetry.proto Span.SpanKind: 2 server, 3 client, 4 producer, 5 consumer
    attributes: Attrs
    events: list[tuple[str, Attrs]]
    links: list[tuple[str, str, Attrs]]  # (trace id, span id, attributes) of each link
    status_message: str
    resource: Attrs = field(repr=False)

    def everything(self) -> str:
        """Every string the span carries, events and links included, for leak checks."""
        parts = [self.name, self.status_message, repr(self.attributes), repr(self.resource)]
        parts += [f"{name} {attrs!r}" for name, attrs in self.events]
        parts += [f"{trace} {span} {attrs!r}" for trace, span, attrs in self.links]
        return "\n".join(parts)


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return _attrs(value.kvlist_value.values)
    return getattr(value, which) if which else None


def _attrs(pairs: Any) -> Attrs:
    return {kv.key: _value(kv.value) for kv in pairs if isinstance(kv, KeyValue)}


class OtlpReceiver:
    """Listens on 127.0.0.1 for POST /v1/traces and keeps every span it decodes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            """Answers each export as a collector does, after keeping its spans."""

            def do_POST(self) -> None:
                """Decode one export request (the exporter's one request kind)."""
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.add(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                """Quiet: the test's output is for its assertions."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The endpoint for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter adds /v1/traces)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, request: ExportTraceServiceRequest) -> None:
        """Keep the spans of one export request."""
        decoded = []
        for resource_spans in request.resource_spans:
            resource = _attrs(resource_spans.resource.attributes)
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    decoded.append(
                        Received(
                            service=str(resource.get("service.name", "")),
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes=_attrs(span.attributes),
                            events=[(e.name, _attrs(e.attributes)) for e in span.events],
                            links=[
                                (k.trace_id.hex(), k.span_id.hex(), _attrs(k.attributes))
                                for k in span.links
                            ],
                            status_message=span.status.message,
                            resource=resource,
                        )
                    )
        with self._lock:
            self._spans.extend(decoded)

    def spans(self) -> list[Received]:
        """Every span received so far."""
        with self._lock:
            return list(self._spans)

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()
