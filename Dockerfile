# One image for every Python process of Stack Overflow Lite. docker compose and Kubernetes
# pick the process with the command (default: the auth service):
#   python -m auth_service | python -m post_service | python -m notification_service
#   celery -A cleaner_worker.app worker | celery -A cleaner_worker.app beat
# Build: docker build -t soflite/services:dev .

# The Python that CI tests against (Debian 12, Python 3.11) and the uv that `make` uses. Both
# are build arguments, so a machine that reaches no image registry can build from local
# stand-ins (tests/compose/standins.py). No `# syntax=` line: it would make BuildKit pull a
# frontend image, and the built-in one handles everything here.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# --- build: the locked runtime dependencies into /app/.venv --------------------------------
FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
# Use the image's Python (never a downloaded one); copy files out of uv's cache, compile
# bytecode now because the runtime filesystem is read-only.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
WORKDIR /app
COPY pyproject.toml uv.lock ./
# The same locked install as `make install`, without the dev-stack and test groups.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --no-install-project

# --- runtime: the venv and our five packages, nothing else ----------------------------------
FROM ${PYTHON_IMAGE}
# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 soflite \
    && useradd --system --uid 10001 --gid soflite --no-create-home --home-dir /app soflite \
    && mkdir -p /var/lib/soflite/jwt-private /var/lib/soflite/jwt-public \
    && chown soflite:soflite /var/lib/soflite/jwt-private /var/lib/soflite/jwt-public
# (Those two folders are where compose mounts the key volumes: an empty named volume takes
# the folder's owner from the image, so the non-root keygen job can write to it.)
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY common ./common
COPY auth_service ./auth_service
COPY post_service ./post_service
COPY notification_service ./notification_service
COPY cleaner_worker ./cleaner_worker
RUN python -m compileall -q common auth_service post_service notification_service cleaner_worker
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0
USER 10001:10001
EXPOSE 8001 8002 8003
# Liveness of whichever HTTP service runs (PORT, else the auth service's 8001); compose and
# Kubernetes declare their own checks for each process, including the Celery ones.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8001'), timeout=4)"]
CMD ["python", "-m", "auth_service"]
