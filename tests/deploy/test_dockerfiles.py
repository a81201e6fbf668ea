"""The two Dockerfiles: lint-clean, pinned, and building the way `make` does."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from services import HTTP_SERVICES
from services import SERVICES as DECLARED
from tests.deploy.conftest import ROOT

HADOLINT = Path(sys.executable).parent / "hadolint"
SERVICES = ROOT / "Dockerfile"
GATEWAY = ROOT / "deploy" / "gateway" / "Dockerfile"
DOCKERFILES = [SERVICES, GATEWAY]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_finds_nothing(dockerfile):
    # Default threshold: any finding, down to "info", fails.
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(dockerfile)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def base_images(dockerfile: Path) -> list[str]:
    text = dockerfile.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    stages = set(re.findall(r"^FROM \S+ AS (\w+)", text, re.M))
    images = []
    for image in re.findall(r"^FROM (\S+)", text, re.M):
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], image)
        if image not in stages:
            images.append(image)
    return images


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_base_images_are_pinned_to_a_patch_version(dockerfile):
    for image in base_images(dockerfile):
        assert re.search(r":\d+\.\d+\.\d+", image), f"{image} is not pinned to x.y.z"


def test_builds_use_the_same_locked_installs_as_make():
    makefile = (ROOT / "Makefile").read_text()
    services, gateway = SERVICES.read_text(), GATEWAY.read_text()
    for step, dockerfile in (
        (r"(uv|\$\(UV\)) sync --frozen", services),  # the Makefile says $(UV)
        (r"npm ci\b", gateway),
        (r"npm run build\b", gateway),
    ):
        assert re.search(step, makefile), f"make no longer runs {step}: update the Dockerfiles"
        assert re.search(step, dockerfile), f"the image must build with {step}, as make does"
    # ... and the services image leaves the dev-stack and test groups out.
    assert "--no-default-groups" in services


def test_uv_in_the_image_is_the_uv_make_installs():
    make_uv = re.search(r'"uv==([\d.]+)"', (ROOT / "Makefile").read_text())
    assert make_uv, "the Makefile no longer pins uv"
    assert f"ARG UV_IMAGE=ghcr.io/astral-sh/uv:{make_uv[1]}\n" in SERVICES.read_text()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_base_image_can_be_replaced_by_a_build_argument(dockerfile):
    # Where no registry is reachable, the build takes local stand-ins through these
    # (tests/compose/standins.yml); a base named in a FROM line could not be redirected.
    text = dockerfile.read_text()
    stages = set(re.findall(r"^FROM \S+ AS (\w+)", text, re.M))
    for image in re.findall(r"^FROM (\S+)", text, re.M):
        assert image in stages or re.fullmatch(r"\$\{\w+_IMAGE\}", image), image


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_syntax_directive_that_would_pull_a_frontend(dockerfile):
    # `# syntax=docker/dockerfile:1` makes BuildKit pull a frontend image before anything
    # else; the built-in frontend handles all these files use (RUN --mount included).
    assert not re.search(r"^#\s*syntax\s*=", dockerfile.read_text(), re.M | re.I)


def test_the_image_copies_every_declared_package_and_the_context_lets_it_in():
    """common and each package of services.py, compiled; the HTTP services' ports exposed."""
    packages = ["common", *(service.package for service in DECLARED)]
    dockerfile = SERVICES.read_text()
    dockerignore = (ROOT / ".dockerignore").read_text().splitlines()
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile, f"{package} is not in the image"
        assert f"!{package}/" in dockerignore, f".dockerignore keeps {package} out"
    (compiled,) = re.findall(r"^RUN python -m compileall -q (.+)$", dockerfile, re.M)
    assert compiled.split() == packages
    (exposed,) = re.findall(r"^EXPOSE (.+)$", dockerfile, re.M)
    assert exposed.split() == [str(service.port) for service in HTTP_SERVICES]


def test_both_images_run_as_a_numeric_non_root_user():
    # Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
    for dockerfile in DOCKERFILES:
        users = re.findall(r"^USER (\S+)", dockerfile.read_text(), re.M)
        assert users and re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]), dockerfile
