"""The cleaner worker's liveness file: fresh means alive, stale or missing means not."""

import os
import subprocess
import sys
import time

from cleaner_worker.liveness import MAX_AGE, VARIABLE, alive


def test_a_fresh_file_is_alive_a_stale_or_missing_one_is_not(tmp_path):
    file = tmp_path / "alive"
    assert not alive(file)
    file.touch()
    assert alive(file)
    assert not alive(file, now=time.time() + MAX_AGE + 1)


def test_the_healthcheck_command_exits_by_the_file(tmp_path):
    file = tmp_path / "alive"

    def check() -> int:
        command = [sys.executable, "-m", "cleaner_worker.liveness"]
        return subprocess.run(command, env={**os.environ, VARIABLE: str(file)}).returncode

    assert check() == 1
    file.touch()
    assert check() == 0
    old = time.time() - MAX_AGE - 1
    os.utime(file, (old, old))
    assert check() == 1
