"""What the rendered gateway config says, in every variant: where nginx listens, how long it
keeps idle connections to the services, and which failed requests it tries again.

`make run` and the tests render through scripts/devstack.py (write_gateway_config); compose and
Kubernetes through the gateway image's envsubst, from its ENV defaults plus their environment.
"""

import ast
import re

import pytest
from devstack import write_gateway_config

from tests.deploy.conftest import ROOT, image_env
from tests.deploy.test_gateway_nginx import TEMPLATES, render

# uvicorn's own default, if our services ever stop setting it.
UVICORN_DEFAULT_KEEP_ALIVE = 5.0
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value: str) -> float:
    """An nginx time (`60s`, `1m30s`, `75`, `500ms`) in seconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d)?", value)
    assert parts and "".join(n + u for n, u in parts) == value, f"not an nginx time: {value}"
    return sum(int(number) * UNITS[unit or "s"] for number, unit in parts)


def services_keep_alive() -> float:
    """uvicorn's timeout_keep_alive as common/service.py's serve() passes it."""
    tree = ast.parse((ROOT / "common" / "service.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "uvicorn.run":
            for keyword in node.keywords:
                if keyword.arg == "timeout_keep_alive":
                    return float(ast.literal_eval(keyword.value))
            return UVICORN_DEFAULT_KEEP_ALIVE
    raise AssertionError("common/service.py no longer calls uvicorn.run")


def without_comments(conf: str) -> str:
    return re.sub(r"#[^\n]*", "", conf)


def directives(block: str, name: str) -> list[str]:
    return [m[1].strip() for m in re.finditer(rf"^\s*{name}\s+([^;]*);", block, re.M)]


def upstreams(conf: str) -> dict[str, str]:
    return {m[1]: m[2] for m in re.finditer(r"^upstream\s+(\w+)\s*\{(.*?)^\}", conf, re.M | re.S)}


def server_level(conf: str) -> str:
    """The server block's own directives (nested location blocks cut out)."""
    server = conf[conf.index("\nserver {") :]
    return re.sub(r"^    location [^{]*\{.*?^    \}", "", server, flags=re.M | re.S)


@pytest.fixture(params=["local", "compose", "kubernetes"])
def rendered(request, tmp_path, compose, kubernetes) -> tuple[str, str]:
    """(variant, the gateway config as that variant renders it)."""
    if request.param == "local":
        conf = write_gateway_config(
            tmp_path,
            port=8080,
            auth="127.0.0.1:8001",
            post="127.0.0.1:8002",
            notification="127.0.0.1:8003",
            web_root=tmp_path / "dist",
        )
        return "local", without_comments((conf.parent / "gateway.conf").read_text())
    env = image_env(ROOT / "deploy" / "gateway" / "Dockerfile")
    if request.param == "compose":
        env.update(compose.environment("gateway"))
    else:
        env.update(kubernetes.kind("ConfigMap")["gateway"]["data"])
    return request.param, without_comments(render(TEMPLATES / "gateway.conf.template", env))


def test_nginx_lets_go_of_an_idle_service_connection_before_uvicorn_does(rendered):
    """Else nginx may send a request on a connection uvicorn is closing: a sporadic 502."""
    where, conf = rendered
    limit = services_keep_alive()
    blocks = upstreams(conf)
    assert set(blocks) == {"auth_service", "post_service", "notification_service"}, where
    for name, block in blocks.items():
        assert directives(block, "keepalive"), f"{where} {name}: no connection reuse at all?"
        (timeout,) = directives(block, "keepalive_timeout") or ["(not set: nginx's 60s)"]
        assert timeout != "(not set: nginx's 60s)", f"{where} {name}: set keepalive_timeout"
        assert seconds(timeout) < limit, f"{where} {name}: {timeout} is not below uvicorn's {limit}"
        assert seconds(timeout) < 75, f"{where} {name}: {timeout}"


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
    conf = write_gateway_config(
        tmp_path,
        host=host,
        port=8080,
        auth="127.0.0.1:8001",
        post="127.0.0.1:8002",
        notification="127.0.0.1:8003",
        web_root=tmp_path / "dist",
    )
    assert directives((conf.parent / "gateway.conf").read_text(), "listen") == [listen]


def test_the_gateways_own_errors_and_the_services_probes_answer_json(rendered):
    """Offline half of tests/e2e/test_gateway_errors.py: every error nginx makes itself has a
    JSON answer, and /readyz and /metrics do not fall through to the web app."""
    where, conf = rendered
    pages = dict(d.split(maxsplit=1) for d in directives(server_level(conf), "error_page"))
    assert set(pages) >= {"413", "414", "429", "502", "504"}, where
    for status, target in pages.items():
        block = re.search(
            rf"location (?:= )?{re.escape(target)} \{{(.*?)^    \}}", conf, re.S | re.M
        ) or pytest.fail(f"{where}: no location {target} for {status}")
        assert directives(block[1], "default_type") == ["application/json"], (where, status)
        (answer,) = directives(block[1], "return")
        assert answer.startswith(f'{status} \'{{"detail":'), (where, status, answer)
    for path in ("/readyz", "/metrics"):
        probe = re.search(rf"location = {path} \{{(.*?)^    \}}", conf, re.S | re.M)
        assert probe, f"{where}: {path} would fall through to the web app's index.html"
        assert directives(probe[1], "return") == ['404 \'{"detail":"not found"}\''], where
