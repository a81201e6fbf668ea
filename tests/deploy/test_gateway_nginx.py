"""The gateway templates render and pass `nginx -t` the way each deployment renders them.

- local (`make run`, the tests): nginx.local.conf.template + gateway.conf.template, 127.0.0.1
  upstreams.
- compose and Kubernetes: what the gateway image's entrypoint renders into conf.d/ from its ENV
  defaults plus the compose environment / the gateway ConfigMap, under a main config shaped
  like the image's nginx.conf.

`nginx -t` resolves upstream host names, and auth-service & co. exist only on the compose or
cluster network. Rewriting the names would test a different config, so instead nginx runs in a
private mount namespace (`unshare`, root only) where /etc/hosts maps those names to 127.0.0.1:
the file under test is byte-for-byte the rendered one. Without that privilege the test is
skipped, and the structural checks below still run.
"""

import os
import shutil
import string
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT, image_env, placeholders

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TEMPLATES = ROOT / "deploy" / "nginx"
GATEWAY_IMAGE_TEMPLATES = [
    TEMPLATES / "gateway.conf.template",
    ROOT / "deploy" / "gateway" / "real-ip.conf.template",
]
needs_nginx = pytest.mark.skipif(not os.access(NGINX, os.X_OK), reason="nginx is not installed")


def render(template: Path, values: dict[str, str]) -> str:
    """As envsubst in the nginx image: fill ${NAME}; nginx's own $name stays."""
    text = string.Template(template.read_text()).safe_substitute(values)
    assert not placeholders(text), f"{template.name}: {placeholders(text)} have no value"
    return text


def nginx_test(conf: Path, hosts: Sequence[str] = ()) -> subprocess.CompletedProcess:
    command = [NGINX, "-t", "-q", "-e", "stderr", "-p", str(conf.parent), "-c", str(conf)]
    if hosts:
        hosts_file = conf.parent / "hosts"
        hosts_file.write_text("".join(f"127.0.0.1 {host}\n" for host in hosts))
        command = [
            "unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts_file), *command,
        ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=20)


@needs_nginx
def test_local_variant_passes_nginx_t(tmp_path, compose):
    (tmp_path / "dist").mkdir()
    gateway = {
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": compose.env_example["GATEWAY_PORT"],
        "AUTH_UPSTREAM": "127.0.0.1:8001",
        "POST_UPSTREAM": "127.0.0.1:8002",
        "NOTIFICATION_UPSTREAM": "127.0.0.1:8003",
        "WEB_ROOT": str(tmp_path / "dist"),
        "AUTH_RATE_LIMIT": compose.env_example["AUTH_RATE_LIMIT"],
    }
    (tmp_path / "gateway.conf").write_text(render(TEMPLATES / "gateway.conf.template", gateway))
    main = {"NGINX_PREFIX": str(tmp_path), "NGINX_MIME_TYPES": "/etc/nginx/mime.types"}
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(TEMPLATES / "nginx.local.conf.template", main))
    result = nginx_test(conf)
    assert result.returncode == 0, result.stderr


def image_main_conf(prefix: Path) -> str:
    """The image's nginx.conf as deploy/gateway/Dockerfile leaves it, with paths under prefix."""
    return f"""
        worker_processes auto;
        error_log stderr notice;
        pid {prefix}/nginx.pid;
        events {{ worker_connections 1024; }}
        http {{
            include /etc/nginx/mime.types;
            default_type application/octet-stream;
            client_body_temp_path {prefix}/client_body;
            proxy_temp_path {prefix}/proxy;
            fastcgi_temp_path {prefix}/fastcgi;
            uwsgi_temp_path {prefix}/uwsgi;
            scgi_temp_path {prefix}/scgi;
            include {prefix}/conf.d/*.conf;
        }}
    """


def image_variant(where: str, compose, kubernetes) -> dict[str, str]:
    env = image_env(ROOT / "deploy" / "gateway" / "Dockerfile")
    if where == "compose":
        env.update(compose.environment("gateway"))
    else:
        env.update(kubernetes.kind("ConfigMap")["gateway"]["data"])
    return env


def upstream_hosts(env: dict[str, str]) -> list[str]:
    return [env[name].rsplit(":", 1)[0] for name in env if name.endswith("_UPSTREAM")]


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_image_variant_upstreams_are_services_that_exist(where, compose, kubernetes):
    env = image_variant(where, compose, kubernetes)
    names = set(compose.services) if where == "compose" else set(kubernetes.kind("Service"))
    assert len(upstream_hosts(env)) == 3
    assert set(upstream_hosts(env)) <= names, f"{where}: gateway upstreams name no service"
    for template in GATEWAY_IMAGE_TEMPLATES:
        render(template, env)


@needs_nginx
@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_image_variant_passes_nginx_t(where, tmp_path, compose, kubernetes):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare to give nginx the service host names")
    env = image_variant(where, compose, kubernetes)
    (tmp_path / "conf.d").mkdir()
    for template in GATEWAY_IMAGE_TEMPLATES:
        conf = tmp_path / "conf.d" / template.name.removesuffix(".template")
        conf.write_text(render(template, env))
    main = tmp_path / "nginx.conf"
    main.write_text(image_main_conf(tmp_path))
    result = nginx_test(main, upstream_hosts(env))
    assert result.returncode == 0, result.stderr
