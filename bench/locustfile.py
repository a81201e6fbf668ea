"""The sustained load: user A posting questions with code at a constant total rate.

`python -m bench` runs it headless (``locust -f bench/locustfile.py --headless ...``) with:
  BENCH_TOKEN    A's access token
  BENCH_RATE     posts/s in total
  BENCH_CREATED  a CSV file: one line "post id,time.time() right after the 201" per post
Latency and failures come from Locust's own statistics (--json-file).

Arrivals are open-loop: post n is sent at start + n / rate by whichever simulated user is free,
whatever the answers' latency, so a slow answer does not bunch the next posts together (a
closed loop of users each posting every few seconds falls into step after one slow moment).
"""

import itertools
import os
import time
from pathlib import Path

import gevent
from locust import HttpUser, task

from bench import post_body

CREATED = Path(os.environ["BENCH_CREATED"])
RATE = float(os.environ["BENCH_RATE"])
START = time.time()
slots, numbers = itertools.count(), itertools.count()


class Author(HttpUser):
    def wait_time(self) -> float:
        """Until the next free slot of the schedule."""
        return max(0.0, START + next(slots) / RATE - time.time())

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {os.environ['BENCH_TOKEN']}"
        gevent.sleep(self.wait_time())

    @task
    def post(self) -> None:
        body = post_body(next(numbers), who="load")
        with self.client.post("/api/post", json=body, catch_response=True) as answer:
            created = time.time()
            if answer.status_code != 201:
                answer.failure(f"{answer.status_code} {answer.text[:200]}")
                return
            with CREATED.open("a") as out:
                out.write(f"{answer.json()['id']},{created:.6f}\n")
