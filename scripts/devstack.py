"""`make run`: prepare .data/ and start the whole system under honcho (see Procfile).

What it does, in order:
- makes the development key pair for tokens (kept across runs);
- writes the object store's credentials file and renders the gateway's nginx config;
- uses the RabbitMQ already listening on 127.0.0.1:5672 (enabling its management UI), or starts
  one in the foreground with the rest;
- hands over to honcho, which runs every Procfile process and stops them all on Ctrl-C.

The helpers here (gateway rendering) are also used by the tests, so `make run` and `make test`
configure nginx the same way.
"""

import json
import os
import shutil
import socket
import string
import subprocess
import sys
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
NGINX_TEMPLATES = ROOT / "deploy" / "nginx"
MIME_TYPES = "/etc/nginx/mime.types"

PROCESSES = [
    "mongo",
    "s3",
    "auth",
    "post",
    "notification",
    "cleaner-worker",
    "cleaner-beat",
    "gateway",
]


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


def write_gateway_config(
    prefix: Path,
    *,
    port: int,
    auth: str,
    post: str,
    notification: str,
    web_root: Path,
    rate_limit: str = "5r/s",
) -> Path:
    """Render the local nginx.conf and the gateway config into ``prefix``; returns nginx.conf."""
    prefix.mkdir(parents=True, exist_ok=True)
    for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / temp).mkdir(exist_ok=True)
    gateway = {
        "GATEWAY_PORT": str(port),
        "AUTH_UPSTREAM": auth,
        "POST_UPSTREAM": post,
        "NOTIFICATION_UPSTREAM": notification,
        "WEB_ROOT": str(web_root),
        "AUTH_RATE_LIMIT": rate_limit,
    }
    (prefix / "gateway.conf").write_text(render(NGINX_TEMPLATES / "gateway.conf.template", gateway))
    main = prefix / "nginx.conf"
    main.write_text(
        render(
            NGINX_TEMPLATES / "nginx.local.conf.template",
            {"NGINX_PREFIX": str(prefix), "NGINX_MIME_TYPES": MIME_TYPES},
        )
    )
    return main


def write_s3_credentials(path: Path, access_key: str, secret_key: str) -> None:
    """SeaweedFS keeps auth only from a config file (env keys are lost on restart)."""
    identity = {
        "name": "soflite",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    path.write_text(json.dumps({"identities": [identity]}, indent=2))


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def main() -> None:
    # .env (see .env.example) fills what the shell did not set, for devstack and every process.
    dotenv = {k: v for k, v in dotenv_values(ROOT / ".env").items() if v is not None}
    env = {**dotenv, **os.environ}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    DATA.mkdir(exist_ok=True)
    (DATA / "mongo").mkdir(exist_ok=True)
    (DATA / "s3").mkdir(exist_ok=True)

    subprocess.run([sys.executable, "-m", "auth_service", "keygen"], cwd=ROOT, env=env, check=True)
    write_s3_credentials(
        DATA / "s3-auth.json",
        env.get("S3_ACCESS_KEY", "soflite-dev"),
        env.get("S3_SECRET_KEY", "soflite-dev-secret"),
    )
    gateway_port = int(env.get("GATEWAY_PORT", "8080"))
    web_root = ROOT / "web" / "dist"
    if not (web_root / "index.html").exists():
        print("web/dist is missing: the API works, the web app needs `make web`", file=sys.stderr)
    write_gateway_config(
        DATA / "nginx",
        port=gateway_port,
        auth="127.0.0.1:8001",
        post="127.0.0.1:8002",
        notification="127.0.0.1:8003",
        web_root=web_root,
        rate_limit=env.get("AUTH_RATE_LIMIT", "5r/s"),
    )

    processes = list(PROCESSES)
    rabbitmq_running = port_open("127.0.0.1", 5672)
    if rabbitmq_running:
        print("using the RabbitMQ on 127.0.0.1:5672")
    else:
        print("no RabbitMQ on 127.0.0.1:5672: starting one")
        processes.insert(0, "rabbitmq")
    # The management UI (http://127.0.0.1:15672, guest/guest); works on a running node too.
    subprocess.run(
        ["rabbitmq-plugins", "enable", "rabbitmq_management"]
        + ([] if rabbitmq_running else ["--offline"]),
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
    )

    print(
        f"""
Stack Overflow Lite is starting:
  app          http://127.0.0.1:{gateway_port}/
  API docs     http://127.0.0.1:{gateway_port}/api/auth/docs
               http://127.0.0.1:{gateway_port}/api/post/docs
               http://127.0.0.1:{gateway_port}/api/notification/docs
  RabbitMQ UI  http://127.0.0.1:15672/  (guest / guest)
Ctrl-C stops everything started here; data stays in .data/.
""",
        flush=True,
    )
    honcho = shutil.which("honcho", path=env["PATH"])
    if honcho is None:
        sys.exit("honcho is missing: run `make run`, which installs it")
    os.chdir(ROOT)
    os.execve(honcho, [honcho, "-f", "Procfile", "start", *processes], env)  # noqa: S606


if __name__ == "__main__":
    main()
