"""`make run`: prepare .data/ and start the whole system under honcho (see Procfile).

What it does, in order:
- makes the development key pair for tokens (kept across runs);
- writes the object store's credentials and security config (owner-only files);
- writes the process list, .data/Procfile: the committed Procfile with REPLICAS (1 unless set,
  at most 8) of each HTTP service, each on its own port, and of the Celery worker, each with its
  own node name; one of everything else, the Celery beat among them (see `replicate`);
- renders the gateway's nginx config (listening on GATEWAY_HOST, 127.0.0.1 unless set), its
  upstreams listing every replica, so nginx balances across them;
- uses the RabbitMQ already listening on 127.0.0.1:5672 (enabling its management UI), or starts
  one in the foreground with the rest;
- hands over to honcho, which runs every process of .data/Procfile and stops them all on Ctrl-C.

The helpers here (gateway rendering, the object store's files and flags) are also used by the
tests, so `make run` and `make test` configure nginx and SeaweedFS the same way.
"""

import datetime
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import string
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
PROCFILE = ROOT / "Procfile"
# What honcho runs: PROCFILE with REPLICAS applied (written by main() on every start).
REPLICATED_PROCFILE = DATA / "Procfile"
NGINX_TEMPLATES = ROOT / "deploy" / "nginx"
MIME_TYPES = "/etc/nginx/mime.types"
# nginx's temp folders, under its prefix (nginx.local.conf.template names them).
NGINX_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
# The object store's files for `make run` (the Procfile's s3 line names them too).
S3_AUTH = DATA / "s3-auth.json"
S3_SECURITY = DATA / "s3-security"

# `weed mini` flags of the object store besides its folder, ports and files; the Procfile's s3
# line and the tests' start_s3 both use exactly these (tests/deploy checks the Procfile).
# Everything binds to 127.0.0.1, and only the S3 API (with its keys) serves data over HTTP:
# -disableHttp turns off the master's and the filer's HTTP APIs, which would otherwise list and
# serve every object without credentials. What still listens (the volume server's HTTP, the gRPC
# ports) is locked by write_s3_security.
S3_FLAGS = [
    "-ip=127.0.0.1",
    "-ip.bind=127.0.0.1",
    "-disableHttp",
    "-master.telemetry=false",
    "-webdav=false",
    "-admin.ui=false",
    "-s3.port.iceberg=0",
    "-s3.port.lance=0",
]

# REPLICAS (`REPLICAS=3 make run`): how many of each HTTP service and of the Celery worker.
# Replica n (1, 2, ...) of a service is named `auth`, `auth-2`, `auth-3`, ... (as the tests'
# Stack names them) and listens on its Procfile port + 10 * (n - 1): auth 8001, 8011, 8021, ...,
# post 8002, 8012, ..., notification 8003, 8013, .... Eight keeps them all below the gateway's
# 8080, and is more than two cores can use.
MAX_REPLICAS = 8
REPLICA_PORT_STEP = 10
HTTP_SERVICES = ("auth", "post", "notification")  # Procfile names; PORT=... on their lines
# Celery workers: any number may run, each under its own node name (--hostname), else Celery
# sees one node several times. Beat is left alone: exactly one must run.
SCALED_WORKERS = ("cleaner-worker",)

# A Procfile line as honcho reads it: `name: command`, anything else is ignored.
PROCFILE_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+):\s*(?P<command>.+)$")
PORT_SETTING = re.compile(r"\bPORT=(?P<port>\d+)\b")
NODE_NAME = re.compile(r"(?P<flag>--hostname[= ])(?P<name>[^@\s]+)@")


def read_procfile(text: str) -> dict[str, str]:
    """A Procfile's processes, name -> command, in their order."""
    lines = (PROCFILE_LINE.match(line) for line in text.splitlines())
    return {line["name"]: line["command"] for line in lines if line}


def replica_count(value: str | None) -> int:
    """REPLICAS as set in the environment or .env: unset or empty is 1."""
    if value is None or not value.strip():
        return 1
    count = int(value) if value.strip().isdigit() else 0
    if not 1 <= count <= MAX_REPLICAS:
        raise ValueError(f"REPLICAS must be a whole number from 1 to {MAX_REPLICAS}, not {value!r}")
    return count


def replica_name(name: str, replica: int) -> str:
    """The first replica keeps the Procfile's name; the others are `<name>-<n>`."""
    return name if replica == 1 else f"{name}-{replica}"


@dataclass(frozen=True)
class ProcessList:
    """`make run`'s processes for honcho, and where each HTTP service's replicas listen."""

    commands: dict[str, str]  # honcho process name -> command, in Procfile order
    upstreams: dict[str, list[str]]  # HTTP service -> host:port of each replica, first first

    def procfile(self) -> str:
        return "".join(f"{name}: {command}\n" for name, command in self.commands.items())

    def without(self, name: str) -> "ProcessList":
        commands = {key: command for key, command in self.commands.items() if key != name}
        return ProcessList(commands, self.upstreams)


def replicate(procfile: dict[str, str], replicas: int) -> ProcessList:
    """The Procfile's processes with ``replicas`` of each HTTP service and of each Celery worker
    (see MAX_REPLICAS for names and ports). One replica is the Procfile exactly."""
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ValueError(f"replicas must be from 1 to {MAX_REPLICAS}, not {replicas}")
    commands: dict[str, str] = {}
    upstreams: dict[str, list[str]] = {}
    for name, command in procfile.items():
        if name in HTTP_SERVICES:
            port = PORT_SETTING.search(command)
            if port is None:
                raise ValueError(f"Procfile: {name} must set its PORT=... on its line")
            upstreams[name] = []
            for replica in range(1, replicas + 1):
                own = int(port["port"]) + REPLICA_PORT_STEP * (replica - 1)
                commands[replica_name(name, replica)] = PORT_SETTING.sub(f"PORT={own}", command)
                upstreams[name].append(f"127.0.0.1:{own}")
        elif name in SCALED_WORKERS:
            if NODE_NAME.search(command) is None:
                raise ValueError(f"Procfile: {name} must name its node (--hostname name@%h)")
            for replica in range(1, replicas + 1):
                node = "" if replica == 1 else f"-{replica}"
                commands[replica_name(name, replica)] = NODE_NAME.sub(
                    rf"\g<flag>\g<name>{node}@", command
                )
        else:
            commands[name] = command
    if missing := set(HTTP_SERVICES) - set(upstreams):
        raise ValueError(f"Procfile: no process for {sorted(missing)}")
    return ProcessList(commands, upstreams)


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
    auth: Sequence[str],
    post: Sequence[str],
    notification: Sequence[str],
    web_root: Path,
    rate_limit: str = "5r/s",
) -> Path:
    """Render the local nginx.conf, the upstreams and the gateway config into ``prefix``;
    returns nginx.conf. ``auth``, ``post`` and ``notification`` list the host:port of every
    replica of that service (nginx balances across them)."""
    prefix.mkdir(parents=True, exist_ok=True)
    for temp in NGINX_TEMP_DIRS:
        (prefix / temp).mkdir(exist_ok=True)
    servers = {
        "AUTH_SERVERS": upstream_servers("auth", auth),
        "POST_SERVERS": upstream_servers("post", post),
        "NOTIFICATION_SERVERS": upstream_servers("notification", notification),
    }
    gateway = {
        "GATEWAY_HOST": f"[{host}]" if ":" in host else host,  # an IPv6 address in brackets
        "GATEWAY_PORT": str(port),
        "WEB_ROOT": str(web_root),
        "AUTH_RATE_LIMIT": rate_limit,
    }
    upstreams = render(NGINX_TEMPLATES / "upstreams.local.conf.template", servers)
    (prefix / "upstreams.conf").write_text(upstreams)
    (prefix / "gateway.conf").write_text(render(NGINX_TEMPLATES / "gateway.conf.template", gateway))
    main = prefix / "nginx.conf"
    main.write_text(
        render(
            NGINX_TEMPLATES / "nginx.local.conf.template",
            {"NGINX_PREFIX": str(prefix), "NGINX_MIME_TYPES": MIME_TYPES},
        )
    )
    return main


def make_private_dir(path: Path) -> None:
    """A folder only its owner can enter (0700), also when it already exists."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (0600), also when it already exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through open(): set it
        file.write(data)


def write_s3_credentials(path: Path, access_key: str, secret_key: str) -> None:
    """SeaweedFS keeps auth only from a config file (env keys are lost on restart)."""
    identity = {
        "name": "soflite",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    write_private(path, json.dumps({"identities": [identity]}, indent=2).encode())


# Every SeaweedFS part that serves or dials gRPC; each presents the one certificate.
_GRPC_PARTS = ("master", "volume", "filer", "s3", "admin", "worker", "client")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    issuer: x509.Name, subject: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return x509.CertificateBuilder(
        issuer_name=issuer,
        subject_name=subject,
        public_key=public_key,
        serial_number=x509.random_serial_number(),
        not_valid_before=now - datetime.timedelta(minutes=5),
        not_valid_after=now + datetime.timedelta(days=3650),
    )


def write_s3_security(folder: Path) -> Path:
    """SeaweedFS's security.toml (``weed -config_dir=<folder>``), fresh keys on every call.

    - JWT signing keys: the volume server serves and stores a file only with a token signed
      by one of them, which only this ``weed mini`` holds (it mints them for its S3 API); the
      filer's HTTP API, off anyway, would want one too. Without them anyone who can reach
      127.0.0.1 could fetch a snippet from the volume server by its file id.
    - mutual TLS on gRPC, from a private CA made here: without it any local process could copy
      a whole volume (``weed backup``) or read the metadata through the gRPC ports, which the
      parts of ``weed mini`` use among themselves.

    Nothing here needs to outlive the process: tokens last seconds and the certificates are
    only checked among the parts of the one ``weed mini``. Returns the folder.
    """
    make_private_dir(folder)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("soflite object store CA")
    ca = (
        _certificate(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    loopback = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    both_ways = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (
        _certificate(ca_name, _name("seaweedfs"), key.public_key())
        .add_extension(x509.SubjectAlternativeName(loopback), critical=False)
        .add_extension(x509.ExtendedKeyUsage(both_ways), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    write_private(folder / "ca.pem", ca.public_bytes(pem))
    write_private(folder / "grpc.pem", cert.public_bytes(pem))
    write_private(
        folder / "grpc.key",
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )

    def toml(value: object) -> str:
        return json.dumps(str(value))  # a JSON string is a TOML basic string

    signing = ("jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read")
    sections = [
        f"[{name}]\nkey = {toml(secrets.token_urlsafe(32))}\nexpires_after_seconds = 10\n"
        for name in signing
    ]
    sections.append(f"[grpc]\nca = {toml(folder / 'ca.pem')}\n")
    sections += [
        f"[grpc.{part}]\ncert = {toml(folder / 'grpc.pem')}\nkey = {toml(folder / 'grpc.key')}\n"
        for part in _GRPC_PARTS
    ]
    write_private(folder / "security.toml", "\n".join(sections).encode())
    return folder


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


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
        auth=processes.upstreams["auth"],
        post=processes.upstreams["post"],
        notification=processes.upstreams["notification"],
        web_root=web_root,
        rate_limit=env.get("AUTH_RATE_LIMIT", "5r/s"),
    )

    rabbitmq_running = port_open("127.0.0.1", 5672)
    if rabbitmq_running:
        print("using the RabbitMQ on 127.0.0.1:5672")
        processes = processes.without("rabbitmq")
    else:
        print("no RabbitMQ on 127.0.0.1:5672: starting one")
    REPLICATED_PROCFILE.write_text(
        f"# Written by scripts/devstack.py from Procfile (REPLICAS={replicas}) on every"
        " `make run`: edit Procfile, not this.\n" + processes.procfile()
    )
    # The management UI (http://127.0.0.1:15672, guest/guest); works on a running node too.
    subprocess.run(
        ["rabbitmq-plugins", "enable", "rabbitmq_management"]
        + ([] if rabbitmq_running else ["--offline"]),
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
    )

    # Where to open it: loopback works too when nginx listens on every address.
    everywhere = ("0.0.0.0", "::")  # noqa: S104 (compared with, not bound to)
    shown = "127.0.0.1" if gateway_host in everywhere else gateway_host
    gateway = f"http://{f'[{shown}]' if ':' in shown else shown}:{gateway_port}"
    replica_lines = "".join(
        f"  {name:<13}{', '.join(addresses)}\n" for name, addresses in processes.upstreams.items()
    )
    print(
        f"""
Stack Overflow Lite is starting:
  app          {gateway}/
  API docs     {gateway}/api/auth/docs
               {gateway}/api/post/docs
               {gateway}/api/notification/docs
  RabbitMQ UI  http://127.0.0.1:15672/  (guest / guest)
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
