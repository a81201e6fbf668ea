"""The object store (SeaweedFS's `weed mini`) as `make run`, the tests and bench start it: its
flags, its credentials file and its security config."""

import datetime
import ipaddress
import json
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devstack import DATA
from devstack.private_files import make_private_dir, write_private

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
