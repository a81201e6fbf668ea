"""The whole system as `make run` starts it (services, gateway, cleaner), on private names:
the tests' stacks and bench's."""

import sys
from dataclasses import dataclass, field
from pathlib import Path

from devstack.processes import Process, start_gateway, start_service, wait_until
from services import HTTP_SERVICES, SERVICES, service_named


@dataclass(frozen=True)
class Keys:
    """The token key pair: auth_service signs with the private key, the others verify."""

    private: Path
    public: Path


@dataclass(frozen=True)
class S3:
    """Where the object store is and the keys to it."""

    endpoint: str
    access_key: str
    secret_key: str


@dataclass(frozen=True)
class Names:
    """Database, exchange, queue and bucket names no other stack (or `make run`) uses."""

    suffix: str

    def database(self, name: str) -> str:
        """The database of the service called ``name`` (services.py), with the suffix."""
        return f"{service_named(name).database}_{self.suffix}"

    @property
    def exchange(self) -> str:
        return f"events.{self.suffix}"

    @property
    def queue(self) -> str:
        return f"notification.{self.suffix}"

    @property
    def bucket(self) -> str:
        return f"snippets-{self.suffix}"

    @property
    def cleaner_queue(self) -> str:
        return f"cleaner.{self.suffix}"


# The tests' and bench's users post, mark and sign in far faster than people do (500 posts at
# once from one user): their stacks lift the per-user limits, which tests/integration proves.
# The tests' stacks also lift the load shedding (common/admission.py; proved there too): their
# bursts on a busy CI machine are not what they test. The bench keeps it (bench/stack.py).
GENEROUS_LIMITS = {
    "POST_MAX_AT_WORK": "10000",
    "POST_MAX_WAIT": "60",
    "POST_LIMIT_BURST": "1000000",
    "POST_LIMIT_INTERVAL": "0.001",
    "NOTIFICATION_WRITE_LIMIT_BURST": "1000000",
    "NOTIFICATION_WRITE_LIMIT_INTERVAL": "0.001",
    "STREAMS_PER_USER": "1000",
    "SIGNIN_FAILURE_LIMIT_BURST": "1000000",
    "SIGNIN_FAILURE_LIMIT_INTERVAL": "0.001",
}


@dataclass
class Stack:
    """Our services as processes against the given MongoDB, S3 and RabbitMQ."""

    name: str
    env: dict[str, str]
    databases: dict[str, str]
    workdir: Path
    processes: dict[str, Process] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    @classmethod
    def configure(
        cls,
        name: str,
        *,
        mongo_url: str,
        s3: S3,
        rabbit_url: str,
        keys: Keys,
        names: Names,
        workdir: Path,
    ) -> "Stack":
        env = {
            "ENVIRONMENT": "development",
            "LOG_LEVEL": "INFO",
            "MONGO_URL": mongo_url,
            "JWT_PRIVATE_KEY_FILE": str(keys.private),
            "JWT_PUBLIC_KEY_FILE": str(keys.public),
            "JWT_ISSUER": "soflite-auth",
            "JWT_AUDIENCE": "soflite",
            "BCRYPT_ROUNDS": "4",
            "RABBITMQ_URL": rabbit_url,
            "EVENTS_EXCHANGE": names.exchange,
            "NOTIFICATION_QUEUE": names.queue,
            "S3_ENDPOINT": s3.endpoint,
            "S3_ACCESS_KEY": s3.access_key,
            "S3_SECRET_KEY": s3.secret_key,
            "S3_BUCKET": names.bucket,
            "OUTBOX_POLL_INTERVAL": "0.5",
            "OUTBOX_CLAIM_TIMEOUT": "2",
            "CLEANER_QUEUE": names.cleaner_queue,
            **GENEROUS_LIMITS,
        }
        return cls(name, env, {s.name: names.database(s.name) for s in SERVICES}, workdir)

    def start_service(
        self, service: str, replica: int = 1, env: dict[str, str] | None = None, port: int = 0
    ) -> str:
        """Start replica ``replica`` (1, 2, ...) of a service (with ``env`` added to the stack's
        settings, on ``port`` if given): its process and URL are keyed ``service`` for the
        first, ``service-<n>`` for the others."""
        key = service if replica == 1 else f"{service}-{replica}"
        env = {**self.env, "MONGO_DB": self.databases[service], **(env or {})}
        proc, url = start_service(f"{self.name}-{key}", service_named(service).package, env, port)
        self.processes[key], self.urls[key] = proc, url
        return url

    def stop_service(self, service: str) -> None:
        self.processes.pop(service).stop()

    def replicas(self, service: str) -> list[str]:
        """The keys of a service's running replicas, first one first."""
        return [k for k in self.urls if k == service or k.startswith(f"{service}-")]

    def start(self, with_gateway: bool = True, replicas: dict[str, int] | None = None) -> "Stack":
        # Consumers first: their queues are bound before anything publishes.
        for declared in sorted(HTTP_SERVICES, key=lambda s: not s.consumes_events):
            for replica in range(1, (replicas or {}).get(declared.name, 1) + 1):
                self.start_service(declared.name, replica)
        if with_gateway:
            self.start_gateway("gateway", rate_limit="100r/s")
        return self

    def start_gateway(self, key: str, rate_limit: str) -> str:
        upstreams = {
            s.name: [self.urls[k].removeprefix("http://") for k in self.replicas(s.name)]
            for s in HTTP_SERVICES
        }
        proc, url = start_gateway(f"{self.name}-{key}", self.workdir / key, upstreams, rate_limit)
        self.processes[key], self.urls[key] = proc, url
        return url

    def start_cleaner(self, *, max_age: float, interval: float) -> None:
        """A real Celery worker and beat on the notification database."""
        env = {
            **self.env,
            "MONGO_DB": self.databases["cleaner"],
            "NOTIFICATION_MAX_AGE": str(max_age),
            "CLEANER_INTERVAL": str(interval),
        }
        celery = [sys.executable, "-m", "celery", "-A", "cleaner_worker.app"]
        worker = Process(
            f"{self.name}-cleaner-worker",
            [
                *celery,
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
                "--without-mingle",
                "--without-gossip",
                "--hostname",
                f"{self.name}-cleaner@%h",
            ],
            env,
        ).start()
        beat = Process(
            f"{self.name}-cleaner-beat",
            [
                *celery,
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.workdir / "celerybeat-schedule"),
            ],
            env,
        ).start()
        self.processes["cleaner-worker"], self.processes["cleaner-beat"] = worker, beat
        wait_until(lambda: "ready." in worker.log_text(), 60, "celery worker ready")

    def stop(self) -> None:
        for proc in reversed(list(self.processes.values())):
            proc.stop()
        self.processes.clear()

    @property
    def gateway(self) -> str:
        return self.urls["gateway"]
