"""services.py is the one list of the services, and the files that cannot read it agree with it.

A service folder (a top-level package with a settings.py, besides common/) must be declared;
each declared service must have its processes in the Procfile, docker-compose.yml and deploy/k8s,
its package in pyproject.toml's mypy and coverage lists, and each HTTP service its place in the
gateway's templates. The Dockerfile and .dockerignore are checked in test_dockerfiles.py.
"""

import re
import shlex
import tomllib

from devstack.procfile import PROCFILE, read_procfile
from services import HTTP_SERVICES, SERVICES
from tests.deploy.conftest import ROOT, placeholders, settings_for

NGINX = ROOT / "deploy" / "nginx"


def service_folders() -> set[str]:
    return {p.name for p in ROOT.iterdir() if (p / "settings.py").is_file()} - {"common"}


def test_every_service_folder_is_declared_and_every_declared_service_has_one():
    assert service_folders() == {service.package for service in SERVICES}, (
        "declare each service folder in services.py (CONTRIBUTING.md, Add a service)"
    )


def test_names_are_unique():
    for field in ("name", "package"):
        values = [getattr(service, field) for service in SERVICES]
        assert len(values) == len(set(values)), field
    ports = [service.port for service in HTTP_SERVICES]
    assert len(ports) == len(set(ports))


def test_the_declaration_states_each_services_own_defaults():
    for service in SERVICES:
        fields = service.settings_class().model_fields
        assert fields["mongo_db"].default == service.database, service.name
        if service.serves_http:
            assert fields["port"].default == service.port, service.name


def test_the_procfile_runs_each_declared_service_on_its_port():
    procfile = read_procfile(PROCFILE.read_text())
    for service in HTTP_SERVICES:
        words = shlex.split(procfile.get(service.name, ""))
        assert f"PORT={service.port}" in words, f"Procfile: no `{service.name}: PORT=...` line"
        assert words[-3:] == ["python", "-m", service.package], service.name
    for service in SERVICES:
        if not service.serves_http:
            for process in service.deployed_as:
                info = settings_for(shlex.split(procfile.get(process, "none")))
                assert info and info.package == service.package, f"Procfile: {process}"


def test_compose_and_kubernetes_run_every_declared_process(compose, kubernetes):
    deployments = kubernetes.kind("Deployment")
    for service in SERVICES:
        for process in service.deployed_as:
            assert process in compose.services, f"docker-compose.yml: no service {process}"
            info = settings_for(compose.command(process))
            assert info and info.package == service.package, f"compose {process}"
            assert process in deployments, f"deploy/k8s: no Deployment {process}"
            (container,) = deployments[process]["spec"]["template"]["spec"]["containers"]
            info = settings_for(container.get("command", []))
            assert info and info.package == service.package, f"k8s {process}"


def test_pyproject_checks_and_measures_every_declared_package():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {"common", *(service.package for service in SERVICES)}
    assert packages <= set(pyproject["tool"]["mypy"]["files"])
    assert set(pyproject["tool"]["coverage"]["run"]["source"]) == packages


def test_the_gateway_templates_route_every_http_service():
    names = [service.name for service in HTTP_SERVICES]
    local = (NGINX / "upstreams.local.conf.template").read_text()
    assert placeholders(local) == {f"{name.upper()}_SERVERS" for name in names}
    image = (ROOT / "deploy" / "gateway" / "upstreams.conf.template").read_text()
    assert {f"{name.upper()}_UPSTREAM" for name in names} <= placeholders(image)
    gateway = (NGINX / "gateway.conf.template").read_text()
    for service in HTTP_SERVICES:
        proxy = rf"proxy_pass http://\${service.name}_upstream;"
        location = rf"location {re.escape(service.route)}/? {{ {proxy} }}"
        assert re.search(location, gateway), f"gateway.conf.template: no location {service.route}"
