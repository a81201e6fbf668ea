"""The worker's liveness, as a file a healthcheck can read for the price of a `stat`.

With ``CLEANER_LIVENESS_FILE`` set (docker compose sets it), the worker's ``Liveness`` step
(cleaner_worker/app.py) touches that file every ``INTERVAL`` seconds while the worker's consumer
runs, that is while it is connected to the broker and taking tasks, and removes it when the
consumer stops (a lost broker connection restarts it, a shutdown ends it).
``python -m cleaner_worker.liveness`` exits 0 only while the file is younger than ``MAX_AGE``,
and imports nothing of Celery's: asking the worker over the broker instead (``celery inspect
ping``) starts a whole Celery client, about a second of CPU for every check.
"""

import os
import sys
import time
from pathlib import Path

VARIABLE = "CLEANER_LIVENESS_FILE"
INTERVAL = 2.0
MAX_AGE = 15.0


def alive(path: Path, now: float | None = None) -> bool:
    try:
        age = (now or time.time()) - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age < MAX_AGE


if __name__ == "__main__":
    file = os.environ.get(VARIABLE)
    if not file:
        sys.exit(f"{VARIABLE} is not set: the worker keeps no liveness file")
    sys.exit(0 if alive(Path(file)) else 1)
