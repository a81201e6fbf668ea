"""Open-loop posts with code at a constant total rate, by one or more authors.

`python -m bench` runs it headless (``locust -f bench/locustfile.py --headless ...``) with:
  BENCH_TOKENS   the authors' access tokens, comma-separated (users take them in turn)
  BENCH_RATE     posts/s in total
  BENCH_ANSWERS  a CSV file: one line "status,time.time() the request was sent,time.time() of the
                 answer,post id" per request (the id of a post created, else empty; status 0:
                 no answer)
Latency and failures come from Locust's own statistics (--json-file).

Arrivals are open-loop: post n is sent at start + n / rate by whichever simulated user is free,
whatever the answers' latency, so a slow answer does not bunch the next posts together (a
closed loop of users each posting every few seconds falls into step after one slow moment).
FastHttpUser (geventhttpclient) costs a fraction of the CPU of requests-based users, so the
load generator, on the same two cores as the stack, takes as little from it as it can.
"""

import itertools
import os
import time
from pathlib import Path

import gevent
from locust import task
from locust.contrib.fasthttp import FastHttpUser

from bench import post_body

ANSWERS = Path(os.environ["BENCH_ANSWERS"])
RATE = float(os.environ["BENCH_RATE"])
TOKENS = os.environ["BENCH_TOKENS"].split(",")
START = time.time()
slots, numbers, users = itertools.count(), itertools.count(), itertools.count()


class Author(FastHttpUser):
    # Connections stay open for the run: a new one per post would be the load's main cost.
    concurrency = 1

    def wait_time(self) -> float:
        """Until the next free slot of the schedule."""
        return max(0.0, START + next(slots) / RATE - time.time())

    def on_start(self) -> None:
        token = TOKENS[next(users) % len(TOKENS)]
        self.headers = {"Authorization": f"Bearer {token}"}
        gevent.sleep(self.wait_time())

    @task
    def post(self) -> None:
        body = post_body(next(numbers), who="load")
        sent = time.time()
        with self.client.post(
            "/api/post", json=body, headers=self.headers, catch_response=True
        ) as answer:
            done, post_id = time.time(), ""
            if answer.status_code == 201:
                post_id = answer.json()["id"]
            else:
                answer.failure(f"{answer.status_code} {(answer.text or '')[:200]}")
            with ANSWERS.open("a") as out:
                out.write(f"{answer.status_code},{sent:.6f},{done:.6f},{post_id}\n")
