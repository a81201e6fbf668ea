"""What the rendered gateway config says, in every variant: where nginx listens, where the
services are and how it finds them, how long it keeps idle connections to them, which failed
requests it tries again, and how it passes the notification stream on.

`make run` and the tests render through devstack/gateway.py (write_gateway_config); compose and
Kubernetes through the gateway image's envsubst, from its ENV defaults plus their environment.
"""

import ast
import re

import pytest

from devstack.gateway import write_gateway_config
from tests.deploy.conftest import ROOT
from tests.deploy.test_gateway_nginx import (
    GATEWAY_IMAGE_TEMPLATES,
    SERVICES,
    image_variant,
    render,
    replicas,
    write_local_config,
)

# uvicorn's own default, if our services ever stop setting it.
UVICORN_DEFAULT_KEEP_ALIVE = 5.0
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value: str) -> float:
    """An nginx time (`60s`, `1m30s`, `75`, `500ms`) in seconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d)?", value)
    assert parts and "".join(n + u for n, u in parts) == value, f"not an nginx time: {value}"
    return sum(int(number) * UNITS[unit or "s"] for number, unit in parts)


def services_heartbeat() -> float:
    """How often the notification stream writes when there is nothing to say (its `: ping`)."""
    tree = ast.parse((ROOT / "notification_service" / "api.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "HEARTBEAT_SECONDS":
            return float(ast.literal_eval(node.value))
    raise AssertionError("notification_service/api.py no longer sets HEARTBEAT_SECONDS")


def services_keep_alive() -> float:
    """uvicorn's timeout_keep_alive as common/server.py's serve() passes it."""
    tree = ast.parse((ROOT / "common" / "server.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "uvicorn.run":
            for keyword in node.keywords:
                if keyword.arg == "timeout_keep_alive":
                    return float(ast.literal_eval(keyword.value))
            return UVICORN_DEFAULT_KEEP_ALIVE
    raise AssertionError("common/server.py no longer calls uvicorn.run")


def without_comments(conf: str) -> str:
    return re.sub(r"#[^\n]*", "", conf)


def directives(block: str, name: str) -> list[str]:
    return [m[1].strip() for m in re.finditer(rf"^\s*{name}\s+([^;]*);", block, re.M)]


def upstreams(conf: str) -> dict[str, str]:
    return {m[1]: m[2] for m in re.finditer(r"^upstream\s+(\w+)\s*\{(.*?)^\}", conf, re.M | re.S)}


def upstream_variables(conf: str) -> dict[str, str]:
    """`map $host $auth_upstream { default <value>; }` -> {"auth_upstream": value}."""
    pattern = r"^map\s+\$host\s+\$(\w+)\s*\{\s*default\s+([^;\s]+);\s*\}"
    return dict(re.findall(pattern, conf, re.M))


def location(conf: str, match: str) -> str:
    """The body of the server's `location <match> {...}`."""
    found = re.search(rf"^    location {re.escape(match)} \{{(.*?)^    \}}", conf, re.S | re.M)
    assert found, f"no location {match}"
    return found[1]


def server_level(conf: str) -> str:
    """The server block's own directives (nested location blocks cut out)."""
    server = conf[conf.index("\nserver {") :]
    return re.sub(r"^    location [^{]*\{.*?^    \}", "", server, flags=re.M | re.S)


@pytest.fixture(params=["local", "compose", "kubernetes"])
def rendered(request, tmp_path, compose, kubernetes) -> tuple[str, str]:
    """(variant, the gateway's http-level config as that variant renders it: gateway.conf and
    its upstreams file). Locally with three replicas of each service, as `REPLICAS=3 make run`."""
    if request.param == "local":
        conf = write_local_config(tmp_path, 3, port=8080, web_root=tmp_path / "dist")
        files = [conf.parent / "gateway.conf", conf.parent / "upstreams.conf"]
        return "local", without_comments("".join(path.read_text() for path in files))
    env = image_variant(request.param, compose, kubernetes)
    rendered = "".join(render(path, env) for path in GATEWAY_IMAGE_TEMPLATES)
    return request.param, without_comments(rendered)


def test_every_service_is_proxied_through_its_upstream_variable(rendered):
    """One template for all variants: each variant's upstreams file says where the services are."""
    where, conf = rendered
    targets = set(re.findall(r"\bproxy_pass\s+([^;]+);", conf))  # one-line locations too
    assert targets == {f"http://${service}_upstream" for service in SERVICES}, where
    assert set(upstream_variables(conf)) == {f"{service}_upstream" for service in SERVICES}, where


def test_make_run_balances_across_every_replica(tmp_path):
    """`REPLICAS=3 make run`: each service's upstream block lists its three replicas, and the
    variable its proxy_pass names is that block (nginx then uses it: no DNS, kept-alive)."""
    write_local_config(tmp_path, 3, port=8080, web_root=tmp_path / "dist")
    conf = without_comments((tmp_path / "upstreams.conf").read_text())
    blocks, variables = upstreams(conf), upstream_variables(conf)
    for service, addresses in replicas(3).items():
        block = blocks[variables[f"{service}_upstream"]]
        assert directives(block, "server") == addresses, service
    assert not directives(conf, "resolver")


def test_make_run_takes_a_list_of_replicas_not_an_address(tmp_path):
    """A bare "host:port" is a sequence of letters too: refused, not one server per letter."""
    with pytest.raises(TypeError, match="one per replica"):
        write_gateway_config(
            tmp_path,
            port=8080,
            upstreams={
                "auth": ["127.0.0.1:8001"],
                "post": "127.0.0.1:8002",
                "notification": ["127.0.0.1:8003"],
            },
            web_root=tmp_path / "dist",
        )


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_the_containers_look_the_services_up_while_running(where, compose, kubernetes):
    """`docker compose up --scale ...` and new pods get traffic without a gateway restart: no
    upstream block names a service (it would be resolved once, at start), the proxy_pass
    variables hold the services' names, and a resolver keeps an answer 10 s at most (Docker's
    DNS answers with a TTL of 600 s)."""
    env = image_variant(where, compose, kubernetes)
    conf = without_comments("".join(render(path, env) for path in GATEWAY_IMAGE_TEMPLATES))
    assert upstreams(conf) == {}, where
    for service in SERVICES:
        expected = env[f"{service.upper()}_UPSTREAM"]
        assert upstream_variables(conf)[f"{service}_upstream"] == expected, where
    (resolver,) = directives(conf, "resolver")
    words = resolver.split()
    options = dict(word.split("=", 1) for word in words if "=" in word)
    assert [word for word in words if "=" not in word] == env["RESOLVER"].split(), where
    assert seconds(options["valid"]) <= 10, where
    assert options.get("ipv6") == "off", f"{where}: the services listen on IPv4 only"
    if where == "compose":
        assert env["RESOLVER"] == "127.0.0.11", "Docker's DNS server on compose networks"


def test_the_notification_stream_is_passed_on_as_it_is_written(rendered):
    """Server-Sent Events: unbuffered, uncached, uncompressed, and a read timeout well above
    the stream's heartbeat (else nginx would cut every quiet stream)."""
    where, conf = rendered
    stream = location(conf, "= /api/notification/stream")
    assert directives(stream, "proxy_pass") == ["http://$notification_upstream"], where
    assert directives(stream, "proxy_buffering") == ["off"], where
    assert directives(stream, "proxy_cache") == ["off"], where
    assert directives(stream, "gzip") == ["off"], where
    (timeout,) = directives(stream, "proxy_read_timeout")
    assert seconds(timeout) > 2 * services_heartbeat(), f"{where}: {timeout}"
    # Authorization goes on as the client sent it, with the server's own headers (request id,
    # Host, Connection): one proxy_set_header here would replace all of those.
    assert not directives(stream, "proxy_set_header"), where
    assert directives(stream, "proxy_pass_request_headers") in ([], ["on"]), where


def test_nginx_lets_go_of_an_idle_service_connection_before_uvicorn_does(rendered):
    """Else nginx may send a request on a connection uvicorn is closing: a sporadic 502.
    A proxy_pass to a resolved name (the image variants) keeps no connection at all."""
    where, conf = rendered
    limit = services_keep_alive()
    blocks = upstreams(conf)
    for variable, target in upstream_variables(conf).items():
        if target not in blocks:
            assert re.fullmatch(r"[\w.-]+:\d+", target), f"{where} {variable}: {target}"
            continue  # resolved per request: nginx closes each connection after its request
        block = blocks[target]
        assert directives(block, "keepalive"), f"{where} {target}: no connection reuse at all?"
        (timeout,) = directives(block, "keepalive_timeout") or ["(not set: nginx's 60s)"]
        assert timeout != "(not set: nginx's 60s)", f"{where} {target}: set keepalive_timeout"
        assert seconds(timeout) < limit, (
            f"{where} {target}: {timeout} is not below uvicorn's {limit}"
        )
        assert seconds(timeout) < 75, f"{where} {target}: {timeout}"
    if where == "local":
        assert set(blocks) == {f"{service}_service" for service in SERVICES}


def test_only_requests_never_sent_or_idempotent_are_tried_again(rendered):
    """A POST that reached a service is never sent twice (it could store a post twice)."""
    where, conf = rendered
    assert "non_idempotent" not in conf, where
    (next_upstream,) = directives(server_level(conf), "proxy_next_upstream")
    assert set(next_upstream.split()) <= {"error", "timeout"}, where
    assert seconds(directives(server_level(conf), "proxy_next_upstream_timeout")[0]) <= 10
    assert int(directives(server_level(conf), "proxy_next_upstream_tries")[0]) == 2


def test_make_run_listens_on_loopback_and_the_containers_on_every_interface(rendered):
    where, conf = rendered
    (listen,) = directives(server_level(conf), "listen")
    expected = "127.0.0.1:8080" if where == "local" else "0.0.0.0:8080"
    assert listen == expected, where


@pytest.mark.parametrize(
    ("host", "listen"),
    [("127.0.0.1", "127.0.0.1:8080"), ("0.0.0.0", "0.0.0.0:8080"), ("::1", "[::1]:8080")],  # noqa: S104
)
def test_gateway_host_sets_where_make_run_listens(tmp_path, host, listen):
    conf = write_local_config(tmp_path, 1, host=host, port=8080, web_root=tmp_path / "dist")
    assert directives((conf.parent / "gateway.conf").read_text(), "listen") == [listen]


def test_the_gateways_own_errors_and_the_services_probes_answer_json(rendered):
    """Offline half of tests/e2e/test_gateway_errors.py: every error nginx makes itself has a
    JSON answer, and /readyz and /metrics do not fall through to the web app."""
    where, conf = rendered
    pages = dict(d.split(maxsplit=1) for d in directives(server_level(conf), "error_page"))
    assert set(pages) >= {"405", "413", "414", "429", "502", "504"}, where
    for status, target in pages.items():
        target = target.removeprefix("= ")  # `=`: the status is the one the location answers
        block = re.search(
            rf"location (?:= )?{re.escape(target)} \{{(.*?)^    \}}", conf, re.S | re.M
        ) or pytest.fail(f"{where}: no location {target} for {status}")
        assert directives(block[1], "default_type") == ["application/json"], (where, status)
        answers = directives(block[1], "return")
        assert answers[-1].startswith(f'{status} \'{{"detail":'), (where, status, answers)
        assert all(re.match(r"\d{3} '\{\"detail\":", answer) for answer in answers), where
    for path in ("/readyz", "/metrics"):
        probe = re.search(rf"location = {path} \{{(.*?)^    \}}", conf, re.S | re.M)
        assert probe, f"{where}: {path} would fall through to the web app's index.html"
        assert directives(probe[1], "return") == ['404 \'{"detail":"not found"}\''], where
