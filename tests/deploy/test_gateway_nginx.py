"""The gateway templates render and pass `nginx -t` the way each deployment renders them.

- local (`make run`, the tests): devstack/gateway.py's write_gateway_config, nginx.local.conf
  + upstreams.local.conf + gateway.conf, upstream blocks of 127.0.0.1 replicas.
- compose and Kubernetes: what the gateway image's entrypoint renders into conf.d/ from its ENV
  defaults plus the compose environment / the gateway ConfigMap, under a main config shaped
  like the image's nginx.conf.

There the services are looked up per request (a variable proxy_pass), so `nginx -t` must pass
without auth-service & co. resolving at all: it runs with no name of theirs known. A resolver
given by name (Kubernetes: kube-dns.kube-system.svc.cluster.local) is resolved at start, and
exists only in a cluster. Rewriting it would test a different config, so instead nginx runs in a
private mount namespace (`unshare`, root only) where /etc/hosts maps that name to 127.0.0.1: the
file under test is byte-for-byte the rendered one. Without that privilege the test is skipped,
and the structural checks below still run.
"""

import ipaddress
import os
import shutil
import string
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from devstack.gateway import write_gateway_config
from devstack.procfile import REPLICA_PORT_STEP
from services import HTTP_SERVICES
from tests.deploy.conftest import (
    GATEWAY_DOCKERFILE,
    ROOT,
    gateway_image_templates,
    image_env,
    placeholders,
)

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TEMPLATES = ROOT / "deploy" / "nginx"
GATEWAY_IMAGE_TEMPLATES = gateway_image_templates()
SERVICES = [service.name for service in HTTP_SERVICES]
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


def replicas(count: int) -> dict[str, list[str]]:
    """Where `REPLICAS=<count> make run` puts each service (devstack/procfile.py's ports)."""
    return {
        s.name: [f"127.0.0.1:{s.port + REPLICA_PORT_STEP * replica}" for replica in range(count)]
        for s in HTTP_SERVICES
        if s.port is not None
    }


def write_local_config(prefix: Path, count: int, **options: Any) -> Path:
    """write_gateway_config as `REPLICAS=<count> make run` calls it; returns nginx.conf."""
    return write_gateway_config(
        prefix,
        upstreams=replicas(count),
        **options,
    )


@needs_nginx
@pytest.mark.parametrize("count", [1, 3])
def test_local_variant_passes_nginx_t(count, tmp_path, compose):
    (tmp_path / "dist").mkdir()
    conf = write_local_config(
        tmp_path / "nginx",
        count,
        port=int(compose.env_example["GATEWAY_PORT"]),
        web_root=tmp_path / "dist",
        rate_limit=compose.env_example["AUTH_RATE_LIMIT"],
    )
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
    env = image_env(GATEWAY_DOCKERFILE)
    if where == "compose":
        env.update(compose.environment("gateway"))
    else:
        env.update(kubernetes.kind("ConfigMap")["gateway"]["data"])
    return env


def upstream_hosts(env: dict[str, str]) -> list[str]:
    return [env[name].rsplit(":", 1)[0] for name in env if name.endswith("_UPSTREAM")]


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def resolver_names(env: dict[str, str]) -> list[str]:
    """The resolvers given by name (nginx resolves those once, at start), not by address:
    `127.0.0.11`, `[::1]:53` are addresses, `kube-dns.kube-system.svc.cluster.local` a name."""
    hosts = [urlsplit(f"//{resolver}").hostname or "" for resolver in env["RESOLVER"].split()]
    return [host for host in hosts if not is_address(host)]


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_image_variant_upstreams_are_services_that_exist(where, compose, kubernetes):
    env = image_variant(where, compose, kubernetes)
    assert len(upstream_hosts(env)) == 3
    for host in upstream_hosts(env):
        if where == "compose":
            assert host in compose.services, f"compose: gateway upstream {host} is no service"
        else:  # fully qualified, in the kustomization's namespace: nginx's resolver needs it
            assert host.endswith(".svc.cluster.local"), f"kubernetes: {host} is not a full name"
            kubernetes.service_for_host(host)
    for template in GATEWAY_IMAGE_TEMPLATES:
        render(template, env)


@needs_nginx
@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_image_variant_passes_nginx_t(where, tmp_path, compose, kubernetes):
    """With only the resolver's name known: the services' names are not needed to start."""
    env = image_variant(where, compose, kubernetes)
    hosts = resolver_names(env)
    if hosts and (os.geteuid() != 0 or not shutil.which("unshare")):
        pytest.skip("needs root and unshare to give nginx the resolver's host name")
    (tmp_path / "conf.d").mkdir()
    for template in GATEWAY_IMAGE_TEMPLATES:
        conf = tmp_path / "conf.d" / template.name.removesuffix(".template")
        conf.write_text(render(template, env))
    main = tmp_path / "nginx.conf"
    main.write_text(image_main_conf(tmp_path))
    result = nginx_test(main, hosts)
    assert result.returncode == 0, result.stderr
