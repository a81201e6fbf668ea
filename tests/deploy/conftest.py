"""What the deployment files say, loaded once for the tests in tests/deploy (and promtool, to
run on the Prometheus rules).

Everything is read from the files themselves (docker-compose.yml, .env.example, deploy/k8s) and
from the settings classes, so adding a setting, a service or a manifest needs no list updated
here. Nothing is started: these tests run offline in a few seconds.
"""

import re
import shlex
import shutil
import string
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from common.settings import ServiceSettings
from services import SERVICES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
GATEWAY_DOCKERFILE = ROOT / "deploy" / "gateway" / "Dockerfile"

# `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`.
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines of a .env file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Fill ${...} as docker compose does; `$$` stays a literal `$`."""

    def fill(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        if (op in (":-", ":?") and not value) or (op in ("-", "?") and value is None):
            if op and op.endswith("?"):
                raise KeyError(f"{name} is required: {arg}")
            return arg or ""
        return value or ""

    parts = text.split("$$")
    return "$".join(INTERPOLATION.sub(fill, part) for part in parts)


def placeholders(text: str) -> set[str]:
    """The ${NAME} placeholders of an nginx template (as the image's envsubst sees them)."""
    return {m["braced"] for m in string.Template.pattern.finditer(text) if m["braced"]}


def gateway_image_templates() -> list[Path]:
    """The nginx templates the gateway image renders at start: what its Dockerfile copies into
    /etc/nginx/templates/ (so a template added there is checked without a list to update)."""
    text = GATEWAY_DOCKERFILE.read_text().replace("\\\n", " ")
    (copy,) = re.findall(r"^COPY (.+) /etc/nginx/templates/$", text, re.M)
    return [ROOT / source for source in copy.split()]


def image_env(dockerfile: Path) -> dict[str, str]:
    """NAME=value pairs of a Dockerfile's ENV instructions (its last stage's defaults)."""
    text = dockerfile.read_text().replace("\\\n", " ")
    last_stage = text.rsplit("\nFROM ", 1)[-1]
    pairs = re.findall(r"^ENV (.+)$", last_stage, re.M)
    return dict(word.split("=", 1) for line in pairs for word in line.split())


@dataclass(frozen=True)
class SettingsInfo:
    """The settings class one of our processes reads, found from its command line."""

    package: str
    cls: type[ServiceSettings]
    serves_http: bool
    job: bool = False  # `python -m auth_service keygen`: runs once and exits

    @property
    def fields(self) -> set[str]:
        return {name.upper() for name in self.cls.model_fields}

    def must_set(self) -> set[str]:
        """Names a container has to set: no default, a development credential, or a default that
        points at this machine or the working directory (loopback, relative path)."""
        names = set()
        for name, info in self.cls.model_fields.items():
            default = info.default
            machine_local = (isinstance(default, str) and "127.0.0.1" in default) or (
                isinstance(default, Path) and not default.is_absolute()
            )
            if name in ("host", "port") and not self.serves_http:
                continue  # a Celery process or a job listens on nothing
            if self.job:  # a one-shot job: only the files it writes must be placed
                if isinstance(default, Path) and not default.is_absolute():
                    names.add(name.upper())
            elif info.is_required() or name in self.cls.dev_only_defaults or machine_local:
                names.add(name.upper())
        return names


def settings_for(command: list[str]) -> SettingsInfo | None:
    """`python -m auth_service` -> auth_service's settings; `celery -A cleaner_worker.app ...`
    -> cleaner_worker's. None for a command that is not one of our processes."""
    job = False
    declared = {service.package: service for service in SERVICES}
    if command[:2] == ["python", "-m"]:
        package, job = command[2], command[3:] == ["keygen"]
        serves_http = not job
    elif command[:1] == ["celery"] and "-A" in command:
        package, serves_http = command[command.index("-A") + 1].split(".")[0], False
    else:
        return None
    assert package in declared, f"{package} is not declared in services.py"
    return SettingsInfo(package, declared[package].settings_class(), serves_http, job)


@dataclass
class Compose:
    raw: dict  # the file as YAML reads it (merge keys resolved, nothing interpolated)
    model: dict  # interpolated with .env.example, as `docker compose` sees it after `cp`
    env_example: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> dict[str, dict]:
        return self.model["services"]

    def command(self, name: str) -> list[str]:
        command = self.services[name].get("command", [])
        return shlex.split(command) if isinstance(command, str) else list(command)

    def environment(self, name: str) -> dict[str, str]:
        env = self.services[name].get("environment", {})
        if isinstance(env, list):
            env = dict(item.partition("=")[::2] for item in env)
        return {key: str(value) for key, value in env.items()}


def _interpolate_tree(node, env):
    if isinstance(node, dict):
        return {key: _interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_interpolate_tree(value, env) for value in node]
    return interpolate(node, env) if isinstance(node, str) else node


@pytest.fixture(scope="session")
def compose() -> Compose:
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env_example = read_env_file(ROOT / ".env.example")
    return Compose(raw, _interpolate_tree(raw, env_example), env_example)


@dataclass
class Kubernetes:
    documents: dict[Path, list[dict]]
    kustomization: dict

    @property
    def resources(self) -> list[dict]:
        return [doc for docs in self.documents.values() for doc in docs]

    def kind(self, kind: str) -> dict[str, dict]:
        return {r["metadata"]["name"]: r for r in self.resources if r["kind"] == kind}

    def workloads(self) -> dict[str, dict]:
        return {**self.kind("Deployment"), **self.kind("StatefulSet")}

    def service_for_host(self, host: str) -> str:
        """The Service a DNS name in the kustomization's namespace names (`auth-service` or
        `auth-service.soflite.svc.cluster.local`), checked to exist."""
        namespace = self.kustomization["namespace"]
        name = host.removesuffix(f".{namespace}.svc.cluster.local")
        assert "." not in name, f"{host} is not a Service of namespace {namespace}"
        assert name in self.kind("Service"), f"{host}: no Service {name}"
        return name

    def container_env(self, container: dict) -> dict[str, str]:
        """Every variable a container gets: envFrom ConfigMaps/Secrets, then env (a secret ref
        becomes the referenced value, so the settings can be tried with it)."""
        config_maps, secrets = self.kind("ConfigMap"), self.kind("Secret")
        env = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env.update(config_maps[source["configMapRef"]["name"]]["data"])
            else:
                env.update(secrets[source["secretRef"]["name"]]["stringData"])
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
            elif ref := item["valueFrom"].get("secretKeyRef"):
                env[item["name"]] = secrets[ref["name"]]["stringData"][ref["key"]]
            elif ref := item["valueFrom"].get("configMapKeyRef"):
                env[item["name"]] = config_maps[ref["name"]]["data"][ref["key"]]
        return {key: str(value) for key, value in env.items()}


@pytest.fixture(scope="session")
def kubernetes() -> Kubernetes:
    documents = {
        path: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    }
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return Kubernetes(documents, kustomization)


@pytest.fixture(scope="session")
def promtool() -> str:
    """Debian's promtool: missing fails the test (the rule tests are part of `make test`)."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: run `make install` (it installs Debian's prometheus)")
    return path


def run(tool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """A command's result, its output captured (for the assertion message)."""
    return subprocess.run(
        [tool, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )
