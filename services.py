"""The services of the system, declared once: what each is called, which package runs it, where
`make run` serves it and what it owns.

`make run` (devstack), the tests, bench and the OpenAPI export read this. The files that cannot
read Python (the Procfile, docker-compose.yml, deploy/k8s, the nginx templates, the Dockerfile,
.dockerignore, pyproject.toml) are written by hand and checked against it by
tests/deploy/test_services_declared.py, which also fails for a service folder not declared here.
"""

import importlib
from dataclasses import dataclass

from fastapi import FastAPI

from common.settings import ServiceSettings


@dataclass(frozen=True)
class Service:
    """One of our processes' packages and what the tools need to know of it."""

    name: str  # Procfile process, test stack key, gateway upstream: /api/<name>, <NAME>_SERVERS
    package: str  # `python -m <package>` (or `celery -A <package>.app`)
    database: str  # the MongoDB database it works on (its settings' mongo_db default)
    deployed_as: tuple[str, ...]  # its docker-compose.yml services and Kubernetes Deployments
    port: int | None = None  # where `make run` serves it (its settings' port default); no HTTP
    consumes_events: bool = False  # binds a queue on the events exchange

    @property
    def serves_http(self) -> bool:
        return self.port is not None

    def settings_class(self) -> type[ServiceSettings]:
        """The one settings class that ``<package>/settings.py`` defines."""
        module = importlib.import_module(f"{self.package}.settings")
        classes = [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, ServiceSettings)
            and value.__module__ == module.__name__
        ]
        if len(classes) != 1:
            raise TypeError(f"{module.__name__} should define one settings class, not {classes}")
        return classes[0]

    def create_app(self) -> FastAPI:
        """``<package>.app.create_app`` with the default settings: built, not started (no
        database or broker needed), for its OpenAPI document and docs page."""
        module = importlib.import_module(f"{self.package}.app")
        app: FastAPI = module.create_app(self.settings_class()())
        return app

    @property
    def route(self) -> str:
        """The gateway's prefix for its API and docs (auth's sign-up and sign-in are /api/...)."""
        return f"/api/{self.name}"


SERVICES = (
    Service("auth", "auth_service", "auth", ("auth-service",), port=8001),
    Service("post", "post_service", "posts", ("post-service",), port=8002),
    Service(
        "notification",
        "notification_service",
        "notifications",
        ("notification-service",),
        port=8003,
        consumes_events=True,
    ),
    # A Celery worker and its beat: deletes old notifications, serves nothing.
    Service("cleaner", "cleaner_worker", "notifications", ("cleaner-worker", "cleaner-beat")),
)

# The ones behind the gateway, in the order above.
HTTP_SERVICES = tuple(service for service in SERVICES if service.serves_http)


def service_named(name: str) -> Service:
    """The declared service called ``name``."""
    for declared in SERVICES:
        if declared.name == name:
            return declared
    raise KeyError(f"no service {name!r} in services.py")
