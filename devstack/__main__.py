"""`make run` (`python -m devstack`): prepare .data/ and start the whole system under honcho
(see Procfile).

What it does, in order:
- makes the development key pair for tokens (kept across runs);
- writes the object store's credentials and security config (owner-only files);
- writes the process list, .data/Procfile: the committed Procfile with REPLICAS (1 unless set,
  at most 8) of each HTTP service, each on its own port, and of the Celery worker, each with its
  own node name; one of everything else, the Celery beat among them (see `replicate`);
- renders the gateway's nginx config (listening on GATEWAY_HOST, 127.0.0.1 unless set), its
  upstreams listing every replica, so nginx balances across them;
- renders Prometheus's config (devstack/prometheus.py): every replica of every HTTP service,
  RabbitMQ's own metrics and the committed rules, data in .data/prometheus/;
- uses the RabbitMQ already listening on 127.0.0.1:5672 (enabling its management UI and its
  Prometheus endpoint), or starts one in the foreground with the rest;
- hands over to honcho, which runs every process of .data/Procfile and stops them all on Ctrl-C.

The parts it uses (devstack/procfile.py, gateway.py, object_store.py) start the tests' and
bench's stacks too, so `make run`, `make test` and `make bench` configure nginx and SeaweedFS
the same way.
"""

import os
import shutil
import subprocess
import sys

from dotenv import dotenv_values

from devstack import DATA, ROOT
from devstack.gateway import write_gateway_config
from devstack.object_store import S3_AUTH, S3_SECURITY, write_s3_credentials, write_s3_security
from devstack.private_files import make_private_dir
from devstack.processes import port_open
from devstack.procfile import PROCFILE, REPLICATED_PROCFILE, read_procfile, replica_count, replicate
from devstack.prometheus import (
    DEFAULT_PORT,
    RABBITMQ_METRICS_PORT,
    Queues,
    prometheus_config,
    write_prometheus_config,
)
from services import HTTP_SERVICES


def main() -> None:
    # .env (see .env.example) fills what the shell did not set, for devstack and every process.
    dotenv = {k: v for k, v in dotenv_values(ROOT / ".env").items() if v is not None}
    env = {**dotenv, **os.environ}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    try:
        replicas = replica_count(env.get("REPLICAS"))
    except ValueError as error:
        sys.exit(str(error))
    processes = replicate(read_procfile(PROCFILE.read_text()), replicas)
    # Owner-only: it holds the stores' files (the snippets among them) and their credentials.
    make_private_dir(DATA)
    (DATA / "mongo").mkdir(exist_ok=True)
    (DATA / "s3").mkdir(exist_ok=True)

    subprocess.run([sys.executable, "-m", "auth_service", "keygen"], cwd=ROOT, env=env, check=True)
    write_s3_credentials(
        S3_AUTH,
        env.get("S3_ACCESS_KEY", "soflite-dev"),
        env.get("S3_SECRET_KEY", "soflite-dev-secret"),
    )
    write_s3_security(S3_SECURITY)
    gateway_host = env.get("GATEWAY_HOST", "127.0.0.1")
    gateway_port = int(env.get("GATEWAY_PORT", "8080"))
    web_root = ROOT / "web" / "dist"
    if not (web_root / "index.html").exists():
        print("web/dist is missing: the API works, the web app needs `make web`", file=sys.stderr)
    write_gateway_config(
        DATA / "nginx",
        host=gateway_host,
        port=gateway_port,
        upstreams=processes.upstreams,
        web_root=web_root,
        rate_limit=env.get("AUTH_RATE_LIMIT", "5r/s"),
    )

    prometheus_port = int(env.get("PROMETHEUS_PORT") or DEFAULT_PORT)
    if port_open("127.0.0.1", prometheus_port):
        sys.exit(
            f"something already listens on 127.0.0.1:{prometheus_port} (a Prometheus the"
            " prometheus package started?): stop it, or set PROMETHEUS_PORT"
        )
    prometheus = f"127.0.0.1:{prometheus_port}"
    write_prometheus_config(
        DATA / "prometheus",
        prometheus_config(
            upstreams=processes.upstreams,
            rabbitmq=f"127.0.0.1:{RABBITMQ_METRICS_PORT}",
            queues=Queues.from_env(env),
            listen=prometheus,
        ),
    )

    rabbitmq_running = port_open("127.0.0.1", 5672)
    if rabbitmq_running:
        print("using the RabbitMQ on 127.0.0.1:5672")
        processes = processes.without("rabbitmq")
    else:
        print("no RabbitMQ on 127.0.0.1:5672: starting one")
    REPLICATED_PROCFILE.write_text(
        f"# Written by devstack from Procfile (REPLICAS={replicas}) on every"
        " `make run`: edit Procfile, not this.\n" + processes.procfile()
    )
    # The management UI (http://127.0.0.1:15672, guest/guest) and the Prometheus endpoint
    # (:15692, scraped by the prometheus process); works on a running node too.
    subprocess.run(
        ["rabbitmq-plugins", "enable", "rabbitmq_management", "rabbitmq_prometheus"]
        + ([] if rabbitmq_running else ["--offline"]),
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
    )

    # Where to open it: loopback works too when nginx listens on every address.
    everywhere = ("0.0.0.0", "::")  # noqa: S104 (compared with, not bound to)
    shown = "127.0.0.1" if gateway_host in everywhere else gateway_host
    gateway = f"http://{f'[{shown}]' if ':' in shown else shown}:{gateway_port}"
    docs = "\n               ".join(f"{gateway}{s.route}/docs" for s in HTTP_SERVICES)
    replica_lines = "".join(
        f"  {name:<13}{', '.join(addresses)}\n" for name, addresses in processes.upstreams.items()
    )
    print(
        f"""
Stack Overflow Lite is starting:
  app          {gateway}/
  API docs     {docs}
  RabbitMQ UI  http://127.0.0.1:15672/  (guest / guest)
  Prometheus   http://{prometheus}/targets  (alerts: http://{prometheus}/alerts)
Services (REPLICAS={replicas}; the gateway balances across them):
{replica_lines}Ctrl-C stops everything started here; data stays in .data/.
""",
        flush=True,
    )
    honcho = shutil.which("honcho", path=env["PATH"])
    if honcho is None:
        sys.exit("honcho is missing: run `make run`, which installs it")
    os.chdir(ROOT)
    # -f: honcho still reads .env from the working directory (its app root).
    os.execve(honcho, [honcho, "-f", str(REPLICATED_PROCFILE), "start"], env)  # noqa: S606


if __name__ == "__main__":
    main()
