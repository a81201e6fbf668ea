"""`make run`'s files, processes and the object store's flags (devstack/, Procfile): what it
writes holding a secret only its owner can read, the Procfile starting SeaweedFS exactly as the
tests do (devstack/processes.py takes the same S3_FLAGS), and the process list
`REPLICAS=n make run` hands honcho."""

import shlex
import stat
import tomllib

import pytest

from devstack import ROOT
from devstack.object_store import (
    S3_AUTH,
    S3_FLAGS,
    S3_SECURITY,
    write_s3_credentials,
    write_s3_security,
)
from devstack.private_files import make_private_dir
from devstack.procfile import MAX_REPLICAS, PROCFILE, read_procfile, replica_count, replicate
from services import HTTP_SERVICES

HTTP_MODULES = {service.name: service.package for service in HTTP_SERVICES}


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_s3_credentials_are_readable_by_their_owner_only(tmp_path):
    fresh, older = tmp_path / "s3-auth.json", tmp_path / "older-s3-auth.json"
    older.write_text("{}")
    older.chmod(0o644)  # as an earlier `make run` left it
    for path in (fresh, older):
        write_s3_credentials(path, "key", "secret-key")
        assert mode(path) == 0o600, path.name
        assert "secret-key" in path.read_text()


def test_the_data_folder_is_entered_by_its_owner_only(tmp_path):
    """.data holds the stores' files, the snippets among them, and their credentials."""
    data = tmp_path / ".data"
    data.mkdir(mode=0o755)  # as an earlier `make run` left it
    make_private_dir(data)
    assert mode(data) == 0o700


def test_s3_security_config_is_private_and_locks_every_part(tmp_path):
    folder = write_s3_security(tmp_path / "s3-security")
    assert mode(folder) == 0o700
    assert {p.name for p in folder.iterdir()} == {"security.toml", "ca.pem", "grpc.pem", "grpc.key"}
    for path in folder.iterdir():
        assert mode(path) == 0o600, path.name
    config = tomllib.loads((folder / "security.toml").read_text())
    keys = [
        config["jwt"]["signing"]["key"],
        config["jwt"]["signing"]["read"]["key"],
        config["jwt"]["filer_signing"]["key"],
        config["jwt"]["filer_signing"]["read"]["key"],
    ]
    assert all(len(key) >= 32 for key in keys) and len(set(keys)) == 4
    assert config["grpc"]["ca"] == str(folder / "ca.pem")
    for part in ("master", "volume", "filer", "s3", "client"):
        assert config["grpc"][part] == {
            "cert": str(folder / "grpc.pem"),
            "key": str(folder / "grpc.key"),
        }, part
    again = tomllib.loads((write_s3_security(folder) / "security.toml").read_text())
    assert again["jwt"]["signing"]["key"] != keys[0]  # fresh keys on every start


def test_procfile_starts_the_object_store_with_the_flags_and_files_the_tests_use():
    lines = (ROOT / "Procfile").read_text().splitlines()
    (command,) = [shlex.split(line.partition(":")[2]) for line in lines if line.startswith("s3:")]
    assert command[:3] == ["weed", f"-config_dir={S3_SECURITY.relative_to(ROOT)}", "mini"]
    flags = command[3:]
    own = {"-dir=.data/s3", "-s3.port=9000", f"-s3.config={S3_AUTH.relative_to(ROOT)}"}
    assert own <= set(flags)
    assert sorted(set(flags) - own) == sorted(S3_FLAGS)
    assert "-disableHttp" in S3_FLAGS and "-ip.bind=127.0.0.1" in S3_FLAGS


def port(command: str) -> int:
    (setting,) = [word for word in shlex.split(command) if word.startswith("PORT=")]
    return int(setting.removeprefix("PORT="))


def module(command: str) -> str | None:
    words = shlex.split(command)
    return words[words.index("-m") + 1] if "-m" in words else None


def test_one_replica_is_the_committed_procfile_with_its_ports():
    procfile = read_procfile(PROCFILE.read_text())
    processes = replicate(procfile, 1)
    assert processes.commands == procfile
    assert processes.upstreams == {s.name: [f"127.0.0.1:{s.port}"] for s in HTTP_SERVICES}
    assert processes.upstreams["auth"] == ["127.0.0.1:8001"]


def test_replicas_3_runs_three_of_each_http_service_and_worker_and_one_beat():
    procfile = read_procfile(PROCFILE.read_text())
    processes = replicate(procfile, 3)
    commands = processes.commands
    ports = [port(command) for command in commands.values() if "PORT=" in command]
    assert len(ports) == len(set(ports)) == 3 * len(HTTP_SERVICES), "a port for every replica"
    for service, package in HTTP_MODULES.items():
        replicas = [command for command in commands.values() if module(command) == package]
        assert len(replicas) == 3, service
        # ... and the gateway is told exactly those ports
        addresses = [f"127.0.0.1:{port(command)}" for command in replicas]
        assert processes.upstreams[service] == addresses, service
    assert processes.upstreams["auth"] == ["127.0.0.1:8001", "127.0.0.1:8011", "127.0.0.1:8021"]
    celery = [words for words in map(shlex.split, commands.values()) if words[0] == "celery"]
    workers = [words for words in celery if "worker" in words]
    node_names = {words[words.index("--hostname") + 1] for words in workers}
    assert len(workers) == len(node_names) == 3, "three workers, each its own Celery node"
    assert sum("beat" in words for words in celery) == 1, "beat must never be doubled"
    # everything else (broker, stores, beat, gateway) once, under its Procfile name
    scaled = {*HTTP_MODULES, "cleaner-worker"}
    assert {name for name in procfile if name not in scaled} <= set(commands)
    assert len(commands) == len(procfile) + 2 * len(scaled)


def test_every_replica_port_stays_clear_of_the_gateway_and_the_stores():
    processes = replicate(read_procfile(PROCFILE.read_text()), MAX_REPLICAS)
    ports = {
        int(address.rsplit(":", 1)[1])
        for addresses in processes.upstreams.values()
        for address in addresses
    }
    assert len(ports) == len(HTTP_SERVICES) * MAX_REPLICAS
    assert max(ports) < 8080 and not ports & {5672, 9000, 15672, 27017}


@pytest.mark.parametrize("value", ["0", "9", "-1", "three", "1.5"])
def test_replicas_outside_1_to_8_are_refused_with_a_clear_message(value):
    with pytest.raises(
        ValueError, match=f"REPLICAS must be a whole number from 1 to {MAX_REPLICAS}"
    ):
        replica_count(value)


@pytest.mark.parametrize(("value", "count"), [(None, 1), ("", 1), ("1", 1), ("3", 3), ("8", 8)])
def test_replicas_default_to_one(value, count):
    assert replica_count(value) == count
