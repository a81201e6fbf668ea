"""A small OTLP/HTTP trace receiver: what our processes export when tracing is on
(common/tracing.py), kept in memory for the tests and the bench to read.

No collector or tracing backend is installable here (see README, "Traces"), so this takes their
place: it accepts ``POST /v1/traces`` in the protobuf encoding the SDK's exporter sends (gzip
or not) and answers as a collector does. Point a process at it with
``OTEL_EXPORTER_OTLP_ENDPOINT=<receiver.endpoint>``.

``python -m devstack.otlp PORT`` runs one as a process of its own that only counts what it
receives (the bench's, with traces on: ``python -m bench --traces``).
"""

import gzip
import signal
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as exported, ids in hex (``parent_id`` empty for a root)."""

    service: str
    instance: str  # which process (service.instance.id: host:pid)
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    plain = ("string_value", "bool_value", "int_value", "double_value")
    return getattr(value, kind) if kind in plain else str(value)


def spans_of(request: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    found = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                found.append(
                    ReceivedSpan(
                        service=str(resource.get("service.name", "")),
                        instance=str(resource.get("service.instance.id", "")),
                        name=span.name,
                        kind=span.kind,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        attributes={a.key: _value(a.value) for a in span.attributes},
                    )
                )
    return found


class OtlpReceiver:
    """Started on a loopback port (a free one unless given); ``spans()`` is everything received
    so far (nothing with ``keep=False``: ``received`` counts them)."""

    def __init__(self, port: int = 0, keep: bool = True) -> None:
        self._spans: list[ReceivedSpan] = []
        self.received = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                spans = spans_of(request)
                with receiver._lock:
                    receiver.received += len(spans)
                    if keep:
                        receiver._spans.extend(spans)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: object) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "OtlpReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def spans(self, trace_id: str | None = None) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self._spans if trace_id is None or s.trace_id == trace_id]

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()


def exporting_to(endpoint: str) -> dict[str, str]:
    """The settings that turn tracing on in a process and export to ``endpoint`` quickly (the
    SDK's default waits 5 s to batch)."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}


def main() -> None:
    receiver = OtlpReceiver(int(sys.argv[1]), keep=False).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"OTLP receiver on {receiver.endpoint}", flush=True)
    stop.wait()
    receiver.stop()
    print(f"received {receiver.received} spans", flush=True)


if __name__ == "__main__":
    main()
