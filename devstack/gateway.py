"""The gateway's local config (`make run`, the tests, bench): deploy/nginx/'s templates rendered
with an upstream block per declared HTTP service (services.py), listing every replica."""

import string
from collections.abc import Mapping, Sequence
from pathlib import Path

from devstack import ROOT
from services import HTTP_SERVICES

NGINX_TEMPLATES = ROOT / "deploy" / "nginx"
MIME_TYPES = "/etc/nginx/mime.types"
# nginx's temp folders, under its prefix (nginx.local.conf.template names them).
NGINX_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def render(template: Path, values: dict[str, str]) -> str:
    """Fill ``${NAME}`` placeholders as envsubst would; nginx's ``$name`` variables stay."""
    text = template.read_text()
    missing = {
        m.group("braced")
        for m in string.Template.pattern.finditer(text)
        if m.group("braced") and m.group("braced") not in values
    }
    if missing:
        raise KeyError(f"{template.name} needs {sorted(missing)}")
    return string.Template(text).safe_substitute(values)


def upstream_servers(service: str, replicas: Sequence[str]) -> str:
    """The `server host:port;` lines of one upstream block, one per replica."""
    if isinstance(replicas, str):  # a str is a Sequence[str] too: one letter per "replica"
        raise TypeError(f"{service}: a list of host:port, one per replica, not {replicas!r}")
    if not replicas:
        raise ValueError(f"{service}: at least one replica")
    return "\n".join(f"    server {replica};" for replica in replicas)


def write_gateway_config(
    prefix: Path,
    *,
    port: int,
    host: str = "127.0.0.1",
    upstreams: Mapping[str, Sequence[str]],
    web_root: Path,
    rate_limit: str = "5r/s",
) -> Path:
    """Render the local nginx.conf, the upstreams and the gateway config into ``prefix``;
    returns nginx.conf. ``upstreams`` lists, for each declared HTTP service by name, the
    host:port of every replica (nginx balances across them)."""
    names = [service.name for service in HTTP_SERVICES]
    if sorted(upstreams) != sorted(names):
        raise ValueError(f"upstreams for {sorted(upstreams)}, the services are {sorted(names)}")
    prefix.mkdir(parents=True, exist_ok=True)
    for temp in NGINX_TEMP_DIRS:
        (prefix / temp).mkdir(exist_ok=True)
    servers = {f"{name.upper()}_SERVERS": upstream_servers(name, upstreams[name]) for name in names}
    gateway = {
        "GATEWAY_HOST": f"[{host}]" if ":" in host else host,  # an IPv6 address in brackets
        "GATEWAY_PORT": str(port),
        "WEB_ROOT": str(web_root),
        "AUTH_RATE_LIMIT": rate_limit,
    }
    blocks = render(NGINX_TEMPLATES / "upstreams.local.conf.template", servers)
    (prefix / "upstreams.conf").write_text(blocks)
    (prefix / "gateway.conf").write_text(render(NGINX_TEMPLATES / "gateway.conf.template", gateway))
    main = prefix / "nginx.conf"
    main.write_text(
        render(
            NGINX_TEMPLATES / "nginx.local.conf.template",
            {"NGINX_PREFIX": str(prefix), "NGINX_MIME_TYPES": MIME_TYPES},
        )
    )
    return main
