"""`make run`'s files and the object store's flags (scripts/devstack.py, Procfile): what it
writes holding a secret only its owner can read, and the Procfile starting SeaweedFS exactly as
the tests do (tests/support/processes.py takes the same S3_FLAGS)."""

import shlex
import stat
import tomllib

from devstack import (
    ROOT,
    S3_AUTH,
    S3_FLAGS,
    S3_SECURITY,
    make_private_dir,
    write_s3_credentials,
    write_s3_security,
)


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
