"""Real servers as child processes, each on free ports with its own data, logs in .artifacts/
(the tests' and bench's stacks).

Nothing here is a mock: MongoDB-wire (secantusdb), S3 (SeaweedFS), RabbitMQ, our services and
nginx are started as they are in `make run`, only on ports and names no one else uses.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack import ROOT
from devstack.gateway import write_gateway_config
from devstack.object_store import S3_FLAGS, write_s3_credentials, write_s3_security
from devstack.prometheus import Queues, prometheus_args, prometheus_config, write_prometheus_config

VENV_BIN = ROOT / ".venv" / "bin"
ARTIFACTS = ROOT / ".artifacts"
LOGS = ARTIFACTS / "logs"


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProcessDied(RuntimeError):
    """A server we wait for has exited: waiting longer cannot help."""


def wait_until(check: Callable[[], object], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy, and return that (typed Any: callers
    poll for a value that may be None until it is not); fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except ProcessDied:
            raise
        except Exception as exc:  # keep polling; report the last error at the deadline
            last_error = exc
        time.sleep(every)
    raise TimeoutError(f"{what} not reached in {timeout}s (last error: {last_error!r})")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own server)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Process:
    """A child process in its own process group, its output in .artifacts/logs/<name>.log."""

    def __init__(
        self, name: str, args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT
    ) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOGS / f"{name}.log"
        self._args = args
        self._env = {
            **os.environ,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
            **(env or {}),
        }
        self._cwd = cwd
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> "Process":
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self._args,
            env=self._env,
            cwd=self._cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if not self.running:
            return
        assert self.popen is not None
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def kill(self) -> None:
        """SIGKILL, the whole process group: no shutdown code runs."""
        if self.running:
            assert self.popen is not None
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_mongo(name: str, storage: str = ":memory:", port: int = 0) -> tuple[Process, str]:
    """secantusdb, in memory unless given a folder (and on a free port unless given one, to
    restart it where its clients look); its URL as the services' default has it.

    ``--standalone``, as compose and Kubernetes run ``mongod``: by default secantusdb announces
    a one-member replica set and writes an oplog entry for every change (for change streams,
    which nothing here uses), which cost it about a tenth of its CPU per post and let a
    replica-set-only feature pass locally that would fail on the standalone ``mongod``."""
    port = port or free_port()
    proc = Process(
        name,
        [
            str(VENV_BIN / "secantusd-py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            storage,
            "--log-level",
            "WARNING",
            "--standalone",
        ],
    )
    proc.start()
    wait_until(lambda: port_open("127.0.0.1", port) or _died(proc), 30, "secantusdb listening")
    _check_alive(proc)
    return proc, f"mongodb://127.0.0.1:{port}/?retryWrites=false"  # see common/settings.py


@dataclass(frozen=True)
class ObjectStore:
    """A started SeaweedFS: the process, its S3 endpoint, every port it opened by flag name
    (``"filer.port"``, ...) and the folder of its security.toml (certificates, JWT keys)."""

    process: Process
    endpoint: str
    ports: dict[str, int]
    config_dir: Path


def start_object_store(name: str, data: Path, access_key: str, secret_key: str) -> ObjectStore:
    """SeaweedFS with every port it opens chosen free, so a running `make run` is no obstacle,
    and the Procfile's flags and security config (devstack/object_store.py)."""
    data.mkdir(parents=True, exist_ok=True)
    write_s3_credentials(data / "auth.json", access_key, secret_key)
    config_dir = write_s3_security(data / "security")
    ports = {
        flag: free_port()
        for flag in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "admin.port",
            "admin.port.grpc",
            "debug.port",
            "s3.debug.port",
            "webdav.port",
        )
    }
    args = [
        str(VENV_BIN / "weed"),
        f"-config_dir={config_dir}",
        "mini",
        f"-dir={data}",
        *S3_FLAGS,
        f"-s3.config={data / 'auth.json'}",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]
    proc = Process(name, args).start()
    wait_until(
        lambda: port_open("127.0.0.1", ports["s3.port"]) or _died(proc),
        60,
        "SeaweedFS S3 listening",
    )
    _check_alive(proc)
    return ObjectStore(proc, f"127.0.0.1:{ports['s3.port']}", ports, config_dir)


def start_s3(name: str, data: Path, access_key: str, secret_key: str) -> tuple[Process, str]:
    """The object store as most tests need it: the process and its S3 endpoint."""
    store = start_object_store(name, data, access_key, secret_key)
    return store.process, store.endpoint


class RabbitNode:
    """A private RabbitMQ node on its own ports and data folder (stoppable by a test), with its
    Prometheus endpoint (the rabbitmq_prometheus plugin, as `make run` enables it) on
    ``metrics_address``."""

    def __init__(self, name: str, base: Path | None = None) -> None:
        # The Debian wrapper runs the server as the rabbitmq user: its folder must be one that
        # user can reach, so not under pytest's private (0700) temporary root.
        base = base or Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.name = name
        self.node = f"{name}@localhost"
        self.port = free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        metrics_port = free_port()
        self.metrics_address = f"127.0.0.1:{metrics_port}"
        base.mkdir(parents=True, exist_ok=True)
        base.chmod(0o777)
        self.base = base
        config = f"prometheus.tcp.ip = 127.0.0.1\nprometheus.tcp.port = {metrics_port}\n"
        for file, text in (
            ("rabbitmq.conf", config),
            ("enabled_plugins", "[rabbitmq_prometheus].\n"),
            ("env.conf", ""),
        ):
            (base / file).write_text(text)
            (base / file).chmod(0o666)
        self._env = {
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "env.conf"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        }
        self.process: Process | None = None

    def start(self) -> "RabbitNode":
        self.process = Process(self.name, ["rabbitmq-server"], self._env).start()
        wait_until(self._ready, 90, f"RabbitMQ node {self.node} started", every=0.5)
        return self

    def _ready(self) -> bool:
        _check_alive(self.process)
        done = subprocess.run(
            ["rabbitmqctl", "-q", "-n", self.node, "await_startup"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        return done.returncode == 0

    def stop(self) -> None:
        if self.process is None or not self.process.running:
            return
        popen = self.process.popen
        assert popen is not None  # a running process has one
        subprocess.run(
            ["rabbitmqctl", "-q", "-n", self.node, "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        popen.wait(30)

    def kill(self) -> None:
        """SIGKILL to the node's Erlang VM (by its pid file): no shutdown of any kind."""
        if self.process is None or not self.process.running:
            return
        pid = int((self.base / "rabbitmq.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        popen = self.process.popen
        assert popen is not None  # a running process has one
        popen.wait(30)

    def remove_data(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def ctl(self, *args: str) -> str:
        done = subprocess.run(
            ["rabbitmqctl", "-q", "-n", self.node, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout

    def queue_depth(self, queue: str) -> int:
        for line in self.ctl("list_queues", "name", "messages").splitlines():
            parts = line.split("\t")
            if parts[0] == queue:
                return int(parts[1])
        raise LookupError(queue)


@contextmanager
def private_rabbit(name: str) -> Iterator[RabbitNode]:
    """A RabbitMQ node of our own for the length of the ``with`` block, its data removed after."""
    node = RabbitNode(name).start()
    try:
        yield node
    finally:
        node.stop()
        node.remove_data()


def start_prometheus(
    name: str,
    folder: Path,
    *,
    upstreams: dict[str, list[str]],
    rabbitmq: str,
    queues: Queues,
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
) -> tuple[Process, str]:
    """Prometheus with `make run`'s config and the committed rules (devstack/prometheus.py), on
    a free port with its data under ``folder``, scraping ``upstreams`` (each HTTP service's
    replicas) and RabbitMQ's endpoint at ``rabbitmq``. Short intervals by default, so a test
    sees a change within seconds. Returns it once ready, with its URL."""
    listen = f"127.0.0.1:{free_port()}"
    config = write_prometheus_config(
        folder,
        prometheus_config(
            upstreams=upstreams,
            rabbitmq=rabbitmq,
            queues=queues,
            listen=listen,
            scrape_interval=scrape_interval,
            evaluation_interval=evaluation_interval,
        ),
    )
    proc = Process(name, prometheus_args(config, folder / "data", listen)).start()
    base = f"http://{listen}"
    wait_until(lambda: http_ok(f"{base}/-/ready") or _died(proc), 60, "Prometheus ready")
    _check_alive(proc)
    return proc, base


def start_service(
    name: str, module: str, env: dict[str, str], port: int = 0
) -> tuple[Process, str]:
    """One of our services, as `python -m <module>` (on a free port unless given one, to restart
    it where the gateway looks); returns it once /readyz answers 200."""
    port = port or free_port()
    proc = Process(
        name, [sys.executable, "-m", module], {**env, "PORT": str(port), "HOST": "127.0.0.1"}
    ).start()
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{base}/readyz") or _died(proc), 60, f"{name} ready")
    _check_alive(proc)
    return proc, base


def start_gateway(
    name: str,
    prefix: Path,
    upstreams: dict[str, list[str]],
    rate_limit: str = "50r/s",
) -> tuple[Process, str]:
    """nginx with the `make run` config on a free port, in front of ``upstreams``: for each
    declared HTTP service, the host:port of every replica (it balances across them)."""
    port = free_port()
    conf = write_gateway_config(
        prefix,
        port=port,
        upstreams=upstreams,
        web_root=ROOT / "web" / "dist",
        rate_limit=rate_limit,
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = Process(name, [nginx, "-p", str(prefix), "-c", str(conf)]).start()
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{base}/healthz") or _died(proc), 30, "gateway listening")
    _check_alive(proc)
    return proc, base


def _died(proc: Process | None) -> bool:
    return proc is not None and proc.popen is not None and proc.popen.poll() is not None


def _check_alive(proc: Process | None) -> None:
    if _died(proc):
        assert proc is not None
        raise ProcessDied(f"{proc.name} exited; its log:\n{proc.log_text()[-3000:]}")
