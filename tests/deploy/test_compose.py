"""docker-compose.yml follows the Compose Specification and runs every process safely."""

import json
import re
from pathlib import Path

import jsonschema
import pytest

from tests.deploy.conftest import GATEWAY_DOCKERFILE, INTERPOLATION, settings_for

SCHEMA = json.loads((Path(__file__).parent / "vendor" / "compose-spec.json").read_text())
# A tag with a version number in it: mongo:8.0.4, minio/minio:RELEASE.2025-..., not mongo:latest.
PINNED = re.compile(r"^[\w./-]+:(?!latest$)[\w.-]*\d[\w.-]*$")
SECRET_NAME = re.compile(r"PASS|SECRET|ACCESS_KEY|ROOT_USER|DEFAULT_USER")


def test_validates_against_the_compose_specification(compose):
    jsonschema.Draft201909Validator(SCHEMA).validate(compose.model)


def test_the_schema_check_is_not_vacuous(compose):
    broken = {**compose.model, "services": {"x": {"image": "a:1", "helthcheck": {}}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft201909Validator(SCHEMA).validate(broken)


def one_shot_jobs(compose) -> set[str]:
    """Services others wait for with service_completed_successfully (they exit, by design)."""
    return {
        dependency
        for service in compose.services.values()
        for dependency, condition in service.get("depends_on", {}).items()
        if condition["condition"] == "service_completed_successfully"
    }


def test_every_long_running_service_has_a_healthcheck(compose):
    jobs = one_shot_jobs(compose)
    for name, service in compose.services.items():
        if name in jobs:
            assert service.get("restart") == "no", f"{name} is a one-shot job: restart: 'no'"
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"


def test_dependencies_wait_for_health_not_for_start(compose):
    for name, service in compose.services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for dependency, condition in depends_on.items():
            expected = (
                "service_completed_successfully"
                if dependency in one_shot_jobs(compose)
                else "service_healthy"
            )
            assert condition == {"condition": expected}, f"{name} -> {dependency}"


def built_images(compose) -> dict[str, str]:
    """Image -> the one service that builds it."""
    return {s["image"]: name for name, s in compose.services.items() if s.get("build")}


def test_every_pulled_image_is_pinned_and_built_ones_are_tagged(compose):
    built = built_images(compose)
    for name, service in compose.services.items():
        image = service["image"]
        if image in built:  # built here: any explicit tag but latest (SOFLITE_VERSION)
            assert re.fullmatch(r"[\w./-]+:(?!latest$)[\w.-]+", image), f"{name}: {image}"
        else:
            assert PINNED.match(image), f"{name}: {image} is not pinned to a version"


def test_exactly_one_celery_beat(compose):
    beats = [name for name in compose.services if "beat" in compose.command(name)]
    assert len(beats) == 1
    assert compose.services[beats[0]].get("deploy", {}).get("replicas", 1) == 1


def test_the_services_and_the_worker_can_be_scaled(compose):
    # `docker compose up --scale notification-service=3` fails on fixed names or host ports.
    for name in ("auth-service", "post-service", "notification-service", "cleaner-worker"):
        service = compose.services[name]
        assert "container_name" not in service and "ports" not in service, name
        assert "hostname" not in service, f"{name}: replicas would share one host name"
    # ... and the gateway finds new replicas without a restart: it asks Docker's DNS per request
    # (tests/deploy/test_gateway_config.py checks the rendered config).
    assert compose.environment("gateway")["RESOLVER"] == "127.0.0.11"


def test_no_credentials_are_written_in_the_file(compose):
    for name, service in compose.raw["services"].items():
        for key, value in service.get("environment", {}).items():
            value = str(value)
            if SECRET_NAME.search(key):
                assert INTERPOLATION.fullmatch(value), f"{name}: {key} must come from .env"
            # In a URL, user and password are both ${...}: amqp://${USER}:${PASSWORD}@host
            if userinfo := re.search(r"://([^@/]*)@", INTERPOLATION.sub("${}", value)):
                assert userinfo[1] == "${}:${}", f"{name}: {key} must take them from .env"


def test_each_image_is_built_once_before_any_service_runs_it(compose):
    # Compose builds an image once per service that says `build`: six services sharing one
    # image built it six times at once. One builds it; the others depend on that one, so any
    # `docker compose up SERVICE` builds it first instead of trying to pull it.
    builders: dict[str, list[str]] = {}
    for name, service in compose.services.items():
        if service.get("build"):
            builders.setdefault(service["image"], []).append(name)
    assert all(len(names) == 1 for names in builders.values()), builders
    for name, service in compose.services.items():
        builder = builders.get(service["image"], [name])[0]
        if builder != name:
            assert builder in service.get("depends_on", {}), f"{name} must depend on {builder}"


def test_our_processes_run_as_non_root_on_a_read_only_filesystem(compose):
    built = built_images(compose)
    for name, service in compose.services.items():
        if service["image"] in built:
            assert service.get("read_only") is True and service.get("cap_drop") == ["ALL"], name


def test_the_gateway_can_write_its_tmpfs_folders(compose):
    # A tmpfs over a folder of the image is root's (0755) whatever mode= says: nginx, uid 101,
    # could then write neither its rendered config nor its temporary files, and the gateway
    # restarted for ever (found by the first real `docker compose up`).
    user = re.findall(r"^USER (\d+)", GATEWAY_DOCKERFILE.read_text(), re.M)[-1]
    for mount in compose.services["gateway"]["tmpfs"]:
        path, _, options = mount.partition(":")
        if path != "/tmp":  # /tmp is made fresh, world-writable
            assert f"uid={user}" in options.split(",") and f"gid={user}" in options.split(","), (
                f"{path} must belong to uid {user}"
            )


def test_gateway_is_the_only_published_app_port_and_uis_stay_on_loopback(compose):
    for name, service in compose.services.items():
        for port in service.get("ports", []):
            if name == "gateway":
                assert port == f"{compose.env_example['GATEWAY_PORT']}:8080"
            else:
                assert port.startswith("127.0.0.1:"), f"{name} publishes {port} to the network"


def test_every_published_port_can_be_moved(compose):
    # A fixed host port fails `up` where anything holds it (a host RabbitMQ holds 15672).
    for name, service in compose.raw["services"].items():
        for port in service.get("ports", []):
            host_port = port.rsplit(":", 1)[0].removeprefix("127.0.0.1:")
            assert INTERPOLATION.fullmatch(host_port), f"{name}: {port} takes no variable"


def test_python_services_use_the_root_image_with_their_own_command(compose):
    ours = [name for name in compose.services if settings_for(compose.command(name))]
    assert {compose.services[name]["image"] for name in ours} == {
        f"soflite/services:{compose.env_example['SOFLITE_VERSION']}"
    }
    assert [compose.services[name].get("build") for name in ours].count(".") == 1
