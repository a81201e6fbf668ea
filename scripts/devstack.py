"""`make run`: prepare .data/ and start the whole system under honcho (see Procfile).

What it does, in order:
- makes the development key pair for tokens (kept across runs);
- writes the object store's credentials and security config (owner-only files) and renders
  the gateway's nginx config (listening on GATEWAY_HOST, 127.0.0.1 unless set);
- uses the RabbitMQ already listening on 127.0.0.1:5672 (enabling its management UI), or starts
  one in the foreground with the rest;
- hands over to honcho, which runs every Procfile process and stops them all on Ctrl-C.

The helpers here (gateway rendering, the object store's files and flags) are also used by the
tests, so `make run` and `make test` configure nginx and SeaweedFS the same way.
"""

import datetime
import ipaddress
import json
import os
import secrets
import shutil
import socket
import string
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
NGINX_TEMPLATES = ROOT / "deploy" / "nginx"
MIME_TYPES = "/etc/nginx/mime.types"
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
    host: str = "127.0.0.1",
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
        "GATEWAY_HOST": f"[{host}]" if ":" in host else host,  # an IPv6 address in brackets
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

    # Where to open it: loopback works too when nginx listens on every address.
    everywhere = ("0.0.0.0", "::")  # noqa: S104 (compared with, not bound to)
    shown = "127.0.0.1" if gateway_host in everywhere else gateway_host
    gateway = f"http://{f'[{shown}]' if ':' in shown else shown}:{gateway_port}"
    print(
        f"""
Stack Overflow Lite is starting:
  app          {gateway}/
  API docs     {gateway}/api/auth/docs
               {gateway}/api/post/docs
               {gateway}/api/notification/docs
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
