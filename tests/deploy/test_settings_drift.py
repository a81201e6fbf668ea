"""The variables each deployed process gets are exactly what its settings class reads.

No extra names (a typo or a renamed field would be silently ignored), every name the process
must set is set (no default, a development credential, or a default that points at this
machine), and the values are accepted by the settings class as they are.
"""

import os

from services import SERVICES
from tests.deploy.conftest import (
    GATEWAY_DOCKERFILE,
    INTERPOLATION,
    ROOT,
    gateway_image_templates,
    image_env,
    placeholders,
    settings_for,
)


def load_settings(info, env: dict[str, str], monkeypatch):
    """Build the settings from exactly `env`, as the process would in its container."""
    for name in os.environ:
        if name.lower() in info.cls.model_fields:
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return info.cls()


# Read from the environment by a library, not by our settings classes: the OpenTelemetry
# SDK's standard variables (common/tracing.py; an empty endpoint leaves tracing off).
READ_BY_LIBRARIES = "OTEL_"


def assert_matches(where: str, info, env: dict[str, str], monkeypatch) -> None:
    extra = {name for name in env if not name.startswith(READ_BY_LIBRARIES)} - info.fields
    assert not extra, f"{where} sets {sorted(extra)}, which {info.cls.__name__} does not read"
    missing = info.must_set() - set(env)
    assert not missing, f"{where} must set {sorted(missing)}"
    load_settings(info, env, monkeypatch)


def compose_processes(compose):
    return [(n, info) for n in compose.services if (info := settings_for(compose.command(n)))]


def kubernetes_containers(kubernetes):
    for name, workload in kubernetes.workloads().items():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            if info := settings_for(container.get("command", [])):
                yield f"{name}/{container['name']}", container, info


def test_compose_sets_exactly_what_each_process_reads(compose, monkeypatch):
    processes = compose_processes(compose)
    assert {info.package for _, info in processes} >= {service.package for service in SERVICES}
    for name, info in processes:
        with monkeypatch.context() as scope:
            assert_matches(f"compose service {name}", info, compose.environment(name), scope)


def test_kubernetes_sets_exactly_what_each_process_reads(kubernetes, monkeypatch):
    containers = list(kubernetes_containers(kubernetes))
    assert len(containers) == sum(len(service.deployed_as) for service in SERVICES)
    for where, container, info in containers:
        env = kubernetes.container_env(container)
        assert env.get("ENVIRONMENT") == "production", where
        with monkeypatch.context() as scope:
            # production mode also proves no development credential is left in use
            assert_matches(where, info, env, scope)


def test_gateway_gets_every_template_placeholder_and_nothing_else(compose, kubernetes):
    wanted = set().union(*(placeholders(path.read_text()) for path in gateway_image_templates()))
    image_defaults = set(image_env(GATEWAY_DOCKERFILE))
    k8s_env = set(kubernetes.kind("ConfigMap")["gateway"]["data"])
    for where, env in (("compose", set(compose.environment("gateway"))), ("k8s", k8s_env)):
        assert env | image_defaults >= wanted, f"{where} lacks {wanted - env - image_defaults}"
        assert env <= wanted, f"{where} gateway sets {env - wanted}, no template reads them"


# --- .env.example: shared by `make run` (honcho) and docker compose ---------------------------


def every_settings_class():
    return [settings_for(["python", "-m", service.package]) for service in SERVICES]


def per_process_names(compose) -> set[str]:
    """Names that mean something different in each process, so must not be in .env: fields
    whose defaults differ between classes, names the Procfile or compose sets per process, and
    development credentials (make run's local stores are set up with the built-in ones)."""
    defaults: dict[str, set] = {}
    names = set()
    for info in every_settings_class():
        names |= {name.upper() for name in info.cls.dev_only_defaults}
        for name, field in info.cls.model_fields.items():
            defaults.setdefault(name.upper(), set()).add(repr(field.default))
    names |= {name for name, values in defaults.items() if len(values) > 1}
    procfile = ROOT / "Procfile"
    for line in procfile.read_text().splitlines() if procfile.exists() else []:
        names |= {w.split("=")[0] for w in line.partition(":")[2].split() if "=" in w}
    for service in compose.raw["services"].values():
        for name, value in service.get("environment", {}).items():
            if "${" not in str(value):
                names.add(name)
    return names


def test_env_example_holds_no_per_process_value(compose):
    leaked = set(compose.env_example) & per_process_names(compose)
    assert not leaked, f".env.example must not set {sorted(leaked)}: it would break make run"


def test_env_example_values_are_accepted_by_every_process_that_reads_them(compose, monkeypatch):
    for info in every_settings_class():
        env = {k: v for k, v in compose.env_example.items() if k in info.fields}
        with monkeypatch.context() as scope:
            load_settings(info, env, scope)


def test_env_example_comments_every_line_and_has_every_compose_variable(compose):
    lines = (ROOT / ".env.example").read_text().splitlines()
    for number, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            assert lines[number - 1].startswith("#"), f"no comment above: {line}"
    compose_text = (ROOT / "docker-compose.yml").read_text()
    required = {m["name"] for m in INTERPOLATION.finditer(compose_text) if m["op"] == ":?"}
    assert required <= set(compose.env_example), f".env.example lacks {required}"


def test_compose_fallbacks_equal_the_env_example(compose):
    # `docker compose up` without a .env behaves as with a copied .env.example.
    for match in INTERPOLATION.finditer((ROOT / "docker-compose.yml").read_text()):
        if match["op"] == ":-" and match["name"] in compose.env_example:
            assert match["arg"] == compose.env_example[match["name"]], match[0]
    assert compose.env_example["ENVIRONMENT"] == "development"
