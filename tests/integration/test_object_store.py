"""The local object store (SeaweedFS, as `make run` starts it) serves snippets only through S3
with its keys: not anonymously through its filer, master or volume server over HTTP, nor by
copying a volume over its gRPC ports.

It runs its own `weed mini` here, started by start_object_store with the Procfile's flags and
security config (devstack/object_store.py: S3_FLAGS, write_s3_security).
"""

import io
import os
import re
import subprocess
import time
import tomllib
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from minio import Minio

from devstack.processes import VENV_BIN, ObjectStore, start_object_store, wait_until

BUCKET = "snippets"
KEY = "posts/secret.txt"
PARTS = ("filer", "master", "volume")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = start_object_store(
        "object-store", tmp_path_factory.mktemp("object-store"), "store-key", "store-secret-key"
    )
    yield store
    store.process.stop()


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int | str, bytes]:
    """Status and body of a plain GET; a refused connection is ("refused", b"")."""
    try:
        answer = httpx.get(url, headers=headers, timeout=5)
    except httpx.TransportError as error:
        return f"refused: {error!r}", b""
    return answer.status_code, answer.content


def weed(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "weed"), *args],
        input=stdin,
        cwd=cwd,
        env={**os.environ, "HOME": str(cwd)},  # no $HOME/.seaweedfs/security.toml either
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def grpc_address(store: ObjectStore, part: str) -> str:
    """host:port.grpcPort, as weed's clients name a server whose gRPC port is not port+10000."""
    return f"127.0.0.1:{store.ports[f'{part}.port']}.{store.ports[f'{part}.port.grpc']}"


def store_snippet(store: ObjectStore, key: str) -> bytes:
    secret = f"a snippet only S3 with its keys may read {uuid.uuid4().hex}".encode()
    s3 = Minio(store.endpoint, "store-key", "store-secret-key", secure=False)
    wait_until(lambda: s3.bucket_exists(BUCKET) or s3.make_bucket(BUCKET) or True, 30, "bucket")
    s3.put_object(BUCKET, key, io.BytesIO(secret), len(secret))
    assert s3.get_object(BUCKET, key).read() == secret  # S3 with its keys works
    return secret


def file_id(store: ObjectStore, path: str, cwd: Path) -> str:
    """The volume file id of an object, asked as an operator would: `weed shell` with the
    store's own certificate (its config folder), through the filer's gRPC."""
    shell = weed(
        f"-config_dir={store.config_dir}",
        "shell",
        f"-master={grpc_address(store, 'master')}",
        f"-filer={grpc_address(store, 'filer')}",
        cwd=cwd,
        stdin=f"fs.meta.cat {path}\n",
    )
    ids = re.findall(r'"fileId":\s*"([^"]+)"', shell.stdout)
    assert len(ids) == 1, shell.stdout + shell.stderr
    return ids[0]


def test_only_s3_with_its_keys_serves_a_stored_snippet(store, tmp_path):
    secret = store_snippet(store, KEY)
    fid = file_id(store, f"/buckets/{BUCKET}/{KEY}", tmp_path)
    filer, master, volume = (f"http://127.0.0.1:{store.ports[f'{part}.port']}" for part in PARTS)
    anonymous = {
        "filer: the object by path": f"{filer}/buckets/{BUCKET}/{KEY}",
        "filer: its metadata": f"{filer}/buckets/{BUCKET}/{KEY}?metadata=true",
        "filer: the listing": f"{filer}/buckets/{BUCKET}/posts/",
        "master: the file id": f"{master}/{fid}",
        "master: where it is": f"{master}/dir/lookup?fileId={fid}",
        "master: a write token": f"{master}/dir/assign",
        "volume server: the file id": f"{volume}/{fid}",
        "volume server: its UI": f"{volume}/ui/index.html",
        "S3 without keys: the object": f"http://{store.endpoint}/{BUCKET}/{KEY}",
        "S3 without keys: the listing": f"http://{store.endpoint}/{BUCKET}?list-type=2",
    }
    for what, url in anonymous.items():
        status, body = http_get(url)
        assert status in (401, 403, 404) or str(status).startswith("refused"), (what, status)
        assert secret not in body and fid.encode() not in body, what

    # The file id is the real one: with a read token signed by the store's own key the volume
    # server serves it, so the refusal above is the lock, not a wrong address.
    security = tomllib.loads((store.config_dir / "security.toml").read_text())
    read_key = security["jwt"]["signing"]["read"]["key"]
    token = jwt.encode({"fid": fid, "exp": int(time.time()) + 10}, read_key, algorithm="HS256")
    assert http_get(f"{volume}/{fid}", {"Authorization": f"Bearer {token}"}) == (200, secret)


def test_the_grpc_ports_refuse_a_client_without_the_stores_certificate(store, tmp_path):
    """`weed backup` copies a whole volume over gRPC: without mutual TLS anyone local could."""
    secret = store_snippet(store, "posts/other.txt")
    data = store.config_dir.parent
    volumes = [int(p.stem.rsplit("_", 1)[1]) for p in data.glob(f"{BUCKET}_*.dat")]
    assert volumes, f"no volume of {BUCKET} in {data}"
    copy = tmp_path / "copy"
    copy.mkdir()
    for volume_id in volumes:
        backup = weed(
            "backup",
            f"-dir={copy}",
            f"-volumeId={volume_id}",
            f"-collection={BUCKET}",
            f"-master={grpc_address(store, 'master')}",
            cwd=tmp_path,
        )
        assert "Successfully backed up" not in backup.stdout, backup.stdout
    copied = b"".join(path.read_bytes() for path in copy.rglob("*") if path.is_file())
    assert secret not in copied
