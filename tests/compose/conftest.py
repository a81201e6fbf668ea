"""The compose level: the project's own images, built by its own Dockerfiles, run by its own
docker-compose.yml in a Docker engine, and used only through the published gateway.

The stack is a compose project of its own (`soflite-test-<run id>`), with its own image tag
and free host ports, so it never meets a `make run` or a `make compose-up`. Where the official
base images cannot be pulled, the local stand-ins are built first and `standins.yml` hands them
in (standins.py). Every step that fails prints the logs of the services it concerns.
"""

import contextlib
import json
import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devstack.processes import free_port, wait_until
from tests.compose import standins
from tests.deploy.conftest import read_env_file

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "compose"
ONE_SHOT = {"jwt-keygen"}  # exits 0 by design; every other container must turn healthy
# Cold: stand-ins and images built from nothing (about 4 minutes here); warm: from the cache.
BUILD_TIMEOUT = 900
HEALTHY_TIMEOUT = 180


@dataclass
class ComposeStack:
    project: str
    files: list[Path]
    env_file: Path
    gateway: str
    timings: dict[str, float] = field(default_factory=dict)

    def compose(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """`docker compose` on this project; output kept, failure raised with it."""
        command = ["docker", "compose", "-p", self.project, "--env-file", str(self.env_file)]
        command += [a for file in self.files for a in ("-f", str(file))]
        result = subprocess.run(
            [*command, *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"docker compose {shlex.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
            )
        return result

    def containers(self) -> list[dict[str, Any]]:
        out = self.compose("ps", "--all", "--format", "json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def not_healthy(self) -> list[str]:
        """Containers that are neither healthy nor a one-shot job that ended well."""
        return [
            f"{c['Name']}: {c['State']} {c.get('Health', '')}".strip()
            for c in self.containers()
            if not (
                (c["Service"] in ONE_SHOT and c["State"] == "exited" and c["ExitCode"] == 0)
                or (c["State"] == "running" and c.get("Health") == "healthy")
            )
        ]

    def wait_healthy(self, timeout: float = HEALTHY_TIMEOUT) -> float:
        """Seconds until every container reports healthy; the laggards' logs if they never do."""
        started = time.monotonic()
        with self.explained():
            wait_until(lambda: not self.not_healthy(), timeout, "all containers healthy", every=0.5)
        return time.monotonic() - started

    def logs(self, *services: str, tail: int = 150) -> str:
        return self.compose("logs", "--no-color", "--tail", str(tail), *services).stdout

    def exec(self, service: str, index: int, *command: str) -> str:
        return self.compose("exec", "-T", "--index", str(index), service, *command).stdout

    @contextmanager
    def explained(self, *services: str) -> Iterator[None]:
        """On a failure inside, print the state of every container and the logs of `services`
        (or, with none named, of every service that is not healthy) before it propagates."""
        try:
            yield
        except BaseException:
            try:
                print(self.compose("ps", "--all").stdout)
                names = services or tuple(
                    {c["Service"] for c in self.containers() if c.get("Health") != "healthy"}
                    - ONE_SHOT
                )
                for service in names:
                    print(f"----- logs of {service} -----\n{self.logs(service)}")
            except Exception as error:  # the original failure matters more
                print(f"(could not read the logs: {error})")
            raise

    def resources(self) -> dict[str, list[str]]:
        """Containers, networks and volumes of this project that the engine still has."""
        label = f"label=com.docker.compose.project={self.project}"
        found = {}
        for kind, listing in (
            ("containers", ["ps", "--all"]),
            ("networks", ["network", "ls"]),
            ("volumes", ["volume", "ls"]),
        ):
            out = subprocess.run(
                ["docker", *listing, "--quiet", "--filter", label],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            found[kind] = out.split()
        return found


def engine_running() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """.env.example (the credentials compose requires) with this run's values over it."""
    settings = {**read_env_file(ROOT / ".env.example"), **values}
    path.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))


def record(timings: dict[str, float]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print("compose level timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


@pytest.fixture(scope="module")
def compose_stack(run_id, tmp_path_factory) -> Iterator[ComposeStack]:
    assert engine_running(), (
        "no Docker engine answers: `make test` starts one (scripts/docker-engine.sh)"
    )
    timings: dict[str, float] = {}
    files = [ROOT / "docker-compose.yml"]
    started = time.monotonic()
    if not standins.registry_reachable():
        standins.build_all()
        files.append(Path(__file__).with_name("standins.yml"))
        timings["stand-ins built"] = time.monotonic() - started
    gateway_port = free_port()
    env_file = tmp_path_factory.mktemp("compose") / "test.env"
    write_env_file(
        env_file,
        {
            "SOFLITE_VERSION": f"test-{run_id}",
            "GATEWAY_PORT": str(gateway_port),
            "RABBITMQ_UI_PORT": str(free_port()),
            "MINIO_CONSOLE_PORT": str(free_port()),
            "BCRYPT_ROUNDS": "4",
            # The scenario posts fast as one user: the per-user post limit out of its way.
            "POST_LIMIT_BURST": "100000",
            "POST_LIMIT_INTERVAL": "0.001",
            "LOG_LEVEL": "INFO",
        },
    )
    stack = ComposeStack(
        project=f"soflite-test-{run_id}",
        files=files,
        env_file=env_file,
        gateway=f"http://127.0.0.1:{gateway_port}",
        timings=timings,
    )
    try:
        began = time.monotonic()
        stack.compose("build", timeout=BUILD_TIMEOUT)
        timings["images built"] = time.monotonic() - began
        began = time.monotonic()
        stack.compose("up", "--detach", timeout=HEALTHY_TIMEOUT)
        timings["up to all healthy"] = (time.monotonic() - began) + stack.wait_healthy()
        timings["whole compose start"] = time.monotonic() - started
        yield stack
    finally:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            stack.compose("down", "--volumes", "--timeout", "5")
        version = f"test-{run_id}"
        subprocess.run(
            ["docker", "image", "rm", f"soflite/services:{version}", f"soflite/gateway:{version}"],
            capture_output=True,
        )
        record(timings)
