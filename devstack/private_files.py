"""Files and folders that hold secrets: only their owner may read them."""

import os
from pathlib import Path


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
