"""The rendered gateway configs at work, on loopback only (no service, no Docker, a second each).

- as `make run` renders it: nginx balances across every replica of a service and passes the
  notification stream on as the service writes it, with the caller's Authorization;
- the gateway's own 405 (TRACE, which nginx refuses before any routing; a POST to a web app
  file) is JSON and its `Allow` names what the path takes, as the services' OpenAPI documents
  list it, while a service's own 405 passes through as it is;
- as the image renders it for compose: nginx asks the resolver when a request needs a service
  and spreads requests over every address of the answer, which is what makes
  `docker compose up --scale` reach new replicas. A tiny DNS server stands in for Docker's; it
  answers with addresses (127.0.0.2, ...) that no system resolver could have given nginx at start.
"""

import json
import re
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from common.allow import HTTP_METHODS
from devstack.gateway import NGINX_TEMP_DIRS, write_gateway_config
from devstack.processes import Process, free_port, http_ok, wait_until
from tests.deploy.conftest import ROOT
from tests.deploy.test_gateway_nginx import (
    GATEWAY_IMAGE_TEMPLATES,
    NGINX,
    SERVICES,
    image_main_conf,
    image_variant,
    needs_nginx,
    render,
)

STREAM = "/api/notification/stream"


class Replica(BaseHTTPRequestHandler):
    """A service replica: answers with its own address; its stream sends one event, then holds
    the rest back until the test releases it."""

    protocol_version = "HTTP/1.1"
    server: "ReplicaServer"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path != STREAM:
            body = "{}:{}".format(*self.server.server_address).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)  # no X-Accel-Buffering: the gateway's own config must do
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.chunk(f"data: first {self.headers.get('Authorization')}\n\n")
        self.server.released.wait(10)  # set by the test once it has read the first event
        self.chunk("data: second\n\n")
        self.chunk("")

    def do_PUT(self) -> None:  # a method the service does not take: its own 405
        self.send_response(405)
        self.send_header("Allow", "GET")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


class ReplicaServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], released: threading.Event) -> None:
        super().__init__(address, Replica)
        self.released = released


@contextmanager
def replicas(addresses: list[tuple[str, int]]) -> Iterator[tuple[list[str], threading.Event]]:
    """A replica on each (host, port); yields their "host:port" and the event that lets their
    streams go on."""
    released = threading.Event()
    servers = [ReplicaServer(address, released) for address in addresses]
    for server in servers:
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield ["{}:{}".format(*server.server_address) for server in servers], released
    finally:
        released.set()
        for server in servers:
            server.shutdown()
            server.server_close()


@contextmanager
def dns_server(answers: dict[str, list[str]]) -> Iterator[str]:
    """Answers A queries for ``answers``' names (TTL 600 s, as Docker's DNS); yields host:port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                query, client = sock.recvfrom(512)
            except TimeoutError:
                continue
            end, labels = 12, []
            while query[end]:
                labels.append(query[end + 1 : end + 1 + query[end]].decode().lower())
                end += 1 + query[end]
            (kind,) = struct.unpack(">H", query[end + 1 : end + 3])
            addresses = answers.get(".".join(labels), []) if kind == 1 else []  # 1: A
            header = query[:2] + struct.pack(">HHHHH", 0x8180, 1, len(addresses), 0, 0)
            records = b"".join(
                b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 600, 4) + socket.inet_aton(address)
                for address in addresses
            )
            sock.sendto(header + query[12 : end + 5] + records, client)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield "{}:{}".format(*sock.getsockname())
    finally:
        stop.set()
        thread.join()
        sock.close()


@contextmanager
def gateway(name: str, conf: Path, port: int, *options: str) -> Iterator[httpx.Client]:
    """nginx on ``conf``; yields a client of it."""
    nginx = Process(name, [NGINX, "-p", str(conf.parent), "-c", str(conf), *options]).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{base}/healthz") or not nginx.running, 10, "nginx")
        assert nginx.running, nginx.log_text()
        with httpx.Client(base_url=base, timeout=5) as client:
            yield client
    finally:
        nginx.stop()


@needs_nginx
def test_make_run_balances_across_replicas_and_streams_each_event_at_once(tmp_path):
    with replicas([("127.0.0.1", 0)] * 3) as (addresses, released):
        port = free_port()
        conf = write_gateway_config(
            tmp_path / "nginx",
            port=port,
            upstreams=dict.fromkeys(SERVICES, addresses),
            web_root=tmp_path,
        )
        with gateway("routing-local-gateway", conf, port) as client:
            answered_by = {client.get("/api/post").text for _ in range(9)}
            assert answered_by == set(addresses), "round robin over the three replicas"

            headers = {"Authorization": "Bearer a-token"}
            with client.stream("GET", STREAM, headers=headers) as stream:
                lines = stream.iter_lines()
                # here while the replica still holds the rest back: nothing was buffered
                assert next(lines) == "data: first Bearer a-token"
                released.set()
                assert [line for line in lines if line] == ["data: second"]


def documented_methods() -> dict[str, str]:
    """A path of each API operation in web/openapi/, its parameters filled in, and the methods
    its document lists for it, named as the services' own 405 names them (common/allow.py)."""
    methods = {}
    for document in (ROOT / "web" / "openapi").glob("*.json"):
        for template, operations in json.loads(document.read_text())["paths"].items():
            path = re.sub(r"\{\w+\}", "0123456789abcdef01234567", template)
            methods[path] = ", ".join(m.upper() for m in HTTP_METHODS if m in operations)
    return methods


@needs_nginx
def test_the_gateways_own_405_is_json_and_names_what_the_path_takes(tmp_path):
    with replicas([("127.0.0.1", 0)]) as (addresses, _):
        port = free_port()
        upstreams = dict.fromkeys(SERVICES, addresses)
        # web/ for a web root that nginx's worker may read (web/index.html): pytest's are private
        web_root = ROOT / "web"
        conf = write_gateway_config(
            tmp_path / "nginx", port=port, upstreams=upstreams, web_root=web_root
        )
        with gateway("allow-local-gateway", conf, port) as client:
            api = documented_methods()
            assert "/api/post" in api and "/api/signin" in api
            docs = {f"/api/{service}/{page}": "GET, HEAD" for service in SERVICES
                    for page in ("docs", "docs/static/swagger-ui.css", "openapi.json")}  # fmt: skip
            web_app = {"/": "GET, HEAD", "/index.html": "GET, HEAD", "/post/1": "GET, HEAD"}
            for path, allowed in (api | docs | web_app).items():
                answer = client.request("TRACE", path)
                assert answer.status_code == 405, (path, answer.text[:100])
                assert answer.headers["content-type"] == "application/json", path
                assert answer.json() == {"detail": "Method Not Allowed"}, path
                assert answer.headers.get_list("allow") == [allowed], path
                assert "x-content-type-options" in answer.headers, path  # the server's headers

            web_file = client.post("/index.html")
            assert web_file.status_code == 405
            assert web_file.headers["content-type"] == "application/json"
            assert web_file.headers.get_list("allow") == ["GET, HEAD"]

            for nowhere in ("/api/nothing", "/api/post/1/nothing", "/readyz", "/metrics"):
                answer = client.request("TRACE", nowhere)
                assert answer.status_code == 404, nowhere  # as every method there
                assert answer.json() == {"detail": "not found"}, nowhere
                assert "allow" not in answer.headers, nowhere

            services_own = client.put("/api/post")
            assert services_own.status_code == 405
            assert services_own.headers.get_list("allow") == ["GET"]


@needs_nginx
def test_compose_gateway_asks_the_resolver_per_request_and_uses_every_address(
    tmp_path, compose, kubernetes
):
    env = image_variant("compose", compose, kubernetes)
    service_port, gateway_port = free_port(), free_port()
    hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]  # three containers of one service
    names = {name: env[name].rsplit(":", 1)[0] for name in env if name.endswith("_UPSTREAM")}
    with (
        replicas([(host, service_port) for host in hosts]) as (addresses, _),
        dns_server({name: hosts for name in names.values()}) as resolver,
    ):
        # The compose rendering, with this test's resolver and ports (and loopback only).
        env |= {variable: f"{name}:{service_port}" for variable, name in names.items()}
        env |= {
            "RESOLVER": resolver,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(gateway_port),
        }
        (tmp_path / "conf.d").mkdir()
        for template in GATEWAY_IMAGE_TEMPLATES:
            conf = tmp_path / "conf.d" / template.name.removesuffix(".template")
            conf.write_text(render(template, env))
        for temp in NGINX_TEMP_DIRS:
            (tmp_path / temp).mkdir()
        main = tmp_path / "nginx.conf"
        main.write_text(image_main_conf(tmp_path))
        with gateway("routing-compose-gateway", main, gateway_port, "-g", "daemon off;") as client:
            for path in ("/api/auth/docs", "/api/post", "/api/notification"):
                answered_by = {client.get(path).text for _ in range(30)}
                assert answered_by == set(addresses), path
