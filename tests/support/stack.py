"""The whole system as `make run` starts it (services, gateway, cleaner), on private names."""

import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.processes import Process, start_gateway, start_service, wait_until

SERVICES = {"auth": "auth_service", "post": "post_service", "notification": "notification_service"}
DATABASES = {"auth": "auth_db", "post": "posts_db", "notification": "notifications_db"}


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
    def configure(cls, name, *, mongo_url, s3, rabbit_url, keys, names, workdir: Path) -> "Stack":
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
        }
        databases = {service: getattr(names, attr) for service, attr in DATABASES.items()}
        return cls(name, env, databases, workdir)

    def start_service(
        self, service: str, replica: int = 1, env: dict[str, str] | None = None, port: int = 0
    ) -> str:
        """Start replica ``replica`` (1, 2, ...) of a service (with ``env`` added to the stack's
        settings, on ``port`` if given): its process and URL are keyed ``service`` for the
        first, ``service-<n>`` for the others."""
        key = service if replica == 1 else f"{service}-{replica}"
        env = {**self.env, "MONGO_DB": self.databases[service], **(env or {})}
        proc, url = start_service(f"{self.name}-{key}", SERVICES[service], env, port)
        self.processes[key], self.urls[key] = proc, url
        return url

    def stop_service(self, service: str) -> None:
        self.processes.pop(service).stop()

    def replicas(self, service: str) -> list[str]:
        """The keys of a service's running replicas, first one first."""
        return [k for k in self.urls if k == service or k.startswith(f"{service}-")]

    def start(self, with_gateway: bool = True, replicas: dict[str, int] | None = None) -> "Stack":
        for service in SERVICES:
            for replica in range(1, (replicas or {}).get(service, 1) + 1):
                self.start_service(service, replica)
        if with_gateway:
            self.start_gateway("gateway", rate_limit="100r/s")
        return self

    def start_gateway(self, key: str, rate_limit: str) -> str:
        upstreams = {
            s: [self.urls[k].removeprefix("http://") for k in self.replicas(s)] for s in SERVICES
        }
        proc, url = start_gateway(f"{self.name}-{key}", self.workdir / key, upstreams, rate_limit)
        self.processes[key], self.urls[key] = proc, url
        return url

    def start_cleaner(self, *, max_age: float, interval: float) -> None:
        """A real Celery worker and beat on the notification database."""
        env = {
            **self.env,
            "MONGO_DB": self.databases["notification"],
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


class User:
    """A person using the API through the gateway."""

    def __init__(self, gateway: str, email: str, password: str = "correct horse battery") -> None:
        self.email, self.password = email, password
        self.http = httpx.Client(base_url=gateway, timeout=10)
        self.token: str | None = None

    def sign_up(self) -> dict:
        answer = self.http.post(
            "/api/signup", json={"email": self.email, "password": self.password}
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    def sign_in(self) -> "User":
        answer = self.http.post(
            "/api/signin", json={"email": self.email, "password": self.password}
        )
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {self.token}"
        return self

    def post(self, text: str, code: str | None = None, language: str | None = None) -> dict:
        answer = self.http.post(
            "/api/post", json={"text": text, "code": code, "language": language}
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    def feed(self, limit: int = 100) -> list[dict]:
        return self._ok(self.http.get("/api/post", params={"limit": limit}))["items"]

    def notifications(self, limit: int = 100) -> list[dict]:
        return self._ok(self.http.get("/api/notification", params={"limit": limit}))["items"]

    @staticmethod
    def _ok(answer: httpx.Response) -> dict:
        assert answer.status_code == 200, answer.text
        return answer.json()
