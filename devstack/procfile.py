"""`make run`'s processes: the committed Procfile, with REPLICAS of each HTTP service (the
declared ones, services.py) and of each Celery worker (see MAX_REPLICAS)."""

import re
from dataclasses import dataclass

from devstack import DATA, ROOT
from services import HTTP_SERVICES

PROCFILE = ROOT / "Procfile"
# What honcho runs: PROCFILE with REPLICAS applied (written by `python -m devstack` on every start).
REPLICATED_PROCFILE = DATA / "Procfile"

# REPLICAS (`REPLICAS=3 make run`): how many of each HTTP service and of the Celery worker.
# Replica n (1, 2, ...) of a service is named `auth`, `auth-2`, `auth-3`, ... (as the tests'
# Stack names them) and listens on its Procfile port + 10 * (n - 1): auth 8001, 8011, 8021, ...,
# post 8002, 8012, ..., notification 8003, 8013, .... Eight keeps them all below the gateway's
# 8080, and is more than two cores can use.
MAX_REPLICAS = 8
REPLICA_PORT_STEP = 10
HTTP_NAMES = [service.name for service in HTTP_SERVICES]  # Procfile names; PORT=... on each line
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
        if name in HTTP_NAMES:
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
    if missing := set(HTTP_NAMES) - set(upstreams):
        raise ValueError(f"Procfile: no process for {sorted(missing)}")
    return ProcessList(commands, upstreams)
