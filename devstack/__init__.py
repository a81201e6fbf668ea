"""The system as local processes: `python -m devstack` is `make run`, and the same parts start
the private stacks of the tests and of bench, so all three run nginx, SeaweedFS and the services
the same way.

- procfile.py: `make run`'s process list, with REPLICAS of each HTTP service and worker;
- gateway.py: the local nginx config rendered from deploy/nginx/ for the declared services;
- object_store.py: SeaweedFS's flags, credentials and security config;
- processes.py: real servers as child processes on free ports (tests and bench);
- stack.py: every service of services.py as processes behind a gateway (tests and bench);
- sse.py: a client of the push stream that behaves as the web client does.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `make run`'s own state: the stores' files, keys, rendered configs (owner-only).
DATA = ROOT / ".data"
