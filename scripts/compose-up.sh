#!/usr/bin/env bash
# `make compose-up`: the whole stack in containers, from docker-compose.yml, healthy on
# http://localhost:${GATEWAY_PORT:-8080}/. Starts a Docker engine and Compose v2 where none runs
# (scripts/docker-engine.sh); makes .env from .env.example where there is none; where no image
# registry answers, builds local stand-ins for the official images and names their override in
# .env (COMPOSE_FILE), so plain `docker compose ps|logs|stop|restart|up -d --scale ...` in this
# folder act on this same stack afterwards. GATEWAY_PORT, RABBITMQ_UI_PORT and
# MINIO_CONSOLE_PORT given in the environment are written to .env for the same reason.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/docker-engine.sh

if [ ! -f .env ]; then
  cp .env.example .env
  echo "made .env from .env.example: change its passwords before the stack is reachable by others"
fi

# NAME=value into .env, replacing a line of that name.
set_in_env() {
  if grep -q "^$1=" .env; then
    sed -i "s|^$1=.*|$1=$2|" .env
  else
    printf '%s=%s\n' "$1" "$2" >> .env
  fi
}

for name in GATEWAY_PORT RABBITMQ_UI_PORT MINIO_CONSOLE_PORT; do
  if [ -n "${!name:-}" ]; then set_in_env "$name" "${!name}"; fi
done

if .venv/bin/python -m tests.compose.standins --check; then
  echo "official images: from the registry"
else
  echo "no image registry answers: building local stand-ins for the official images (docs/deploy.md)"
  .venv/bin/python -m tests.compose.standins >/dev/null
  set_in_env COMPOSE_FILE docker-compose.yml:tests/compose/standins.yml
fi

# A published port something else holds (on our machines a RabbitMQ holds 15672) would fail
# `up` half-way: say so first, with the way out. Ports the stack itself holds are fine.
if [ -z "$(docker compose ps --quiet)" ]; then
  published=$(docker compose config --format json | .venv/bin/python -c '
import json, sys
services = json.load(sys.stdin)["services"].values()
print(*sorted({port["published"] for s in services for port in s.get("ports", [])}))')
  for port in $published; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port is in use on this machine: give the stack other ports, for example" >&2
      echo "  GATEWAY_PORT=18080 RABBITMQ_UI_PORT=15673 MINIO_CONSOLE_PORT=19001 make compose-up" >&2
      exit 1
    fi
  done
fi

docker compose up --detach --build --wait --wait-timeout 300
docker compose ps
echo "Stack Overflow Lite in containers: http://localhost:$(grep '^GATEWAY_PORT=' .env | cut -d= -f2)/ (make compose-down stops it)"
