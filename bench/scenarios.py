"""The scenarios, in order: each adds its figures, and the numbers behind the plots, to a Run."""

import argparse
import asyncio
import contextlib
import csv
import itertools
import json
import math
import os
import statistics
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient
from pymongo.collection import Collection
from tqdm import tqdm

from bench import cpu, post_body
from bench.pipeline import pipeline_rate
from bench.probe import NotificationProbe, broker_round_trip, broker_throughput
from bench.report import Figure, ms
from bench.stack import Target
from common.outbox import DUE
from devstack import ROOT
from devstack.sse import StreamClient

PASSWORD = "correct horse battery"  # noqa: S105 (the bench users')
SEEDERS = [f"author{i}" for i in range(4)]  # the seeded posts' authors (never B, the reader)
READS = {
    "feed": ("/api/post", {"limit": 20}),
    "notification list": ("/api/notification", {"limit": 20}),
    "unread count": ("/api/notification/unread-count", {}),
}
ANCHOR = "anchor: find_one by _id"
HISTOGRAMS = (
    "outbox_publish_latency_seconds",
    "consumer_lag_seconds",
    "consumer_handling_seconds",
    "http_request_duration_seconds",
)


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def p50_p99(samples: list[float]) -> tuple[float | None, float | None]:
    """The median and the 99th percentile, or ``None`` for both with fewer than two samples."""
    return (pct(samples, 50), pct(samples, 99)) if len(samples) > 1 else (None, None)


def times(measured: float | None, anchor: float) -> str:
    return "-" if measured is None else f"{measured / anchor:.0f}x"


def latency_figures(
    name: str,
    p50: float | None,
    p99: float | None,
    a50: float,
    a99: float,
    missing: int,
    never: str,
    where: str = "",
) -> list[Figure]:
    """The p50 (for context) and the p99 (target 1 s) of a delivery, each beside the anchor's
    (``a50``, ``a99``).

    ``missing`` counts deliveries never seen: any fails the p99 and is named in it.
    """
    where = f" ({where})" if where else ""
    return [
        Figure(f"{name} p50{where}", "-", ms(p50), ms(a50), times(p50, a50)),
        Figure(
            f"{name} p99{where}",
            "≤ 1 s",
            ms(p99) + (f" ({missing} {never})" if missing else ""),
            ms(a99),
            times(p99, a99),
            p99 is not None and p99 <= 1 and not missing,
        ),
    ]


@dataclass
class Run:
    args: argparse.Namespace
    target: Target
    out: Path
    http: httpx.AsyncClient  # the gateway
    mongo: MongoClient[dict[str, Any]]  # the same store the services use, for anchors and checks
    emails: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    created: int = 0  # posts this run created: each must get exactly one notification
    notifications_before: int = 0
    # Quoted: class annotations are evaluated, and itertools.count is not subscriptable at run time.
    numbers: "itertools.count[int]" = field(default_factory=itertools.count)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def collection(self, service: str, name: str) -> Collection[dict[str, Any]]:
        return self.mongo[self.target.databases[service]][name]

    def note(self, text: str) -> None:
        self.data.setdefault("notes", []).append(text)


async def run_all(args: argparse.Namespace, target: Target, out: Path) -> Run:
    async with httpx.AsyncClient(base_url=target.gateway, timeout=30) as http:
        run = Run(args, target, out, http, MongoClient(target.mongo_url))
        try:
            chosen = args.only or [s.__name__ for s in SCENARIOS]
            for scenario in (s for s in SCENARIOS if s is sign_up or s.__name__ in chosen):
                start = time.monotonic()
                try:
                    await scenario(run)
                except Exception as exc:  # report what was measured, and what failed
                    if scenario is sign_up:
                        raise
                    traceback.print_exc()
                    run.figures.append(
                        Figure(scenario.__name__, "-", f"failed: {exc!r}", met=False)
                    )
                finally:
                    took = run.data.setdefault("scenario_s", {})
                    took[scenario.__name__] = round(time.monotonic() - start, 1)
        finally:
            run.mongo.close()
    return run


# --- helpers ---------------------------------------------------------------------------------


def _check(answer: httpx.Response, status: int) -> dict[str, Any]:
    if answer.status_code != status:
        raise RuntimeError(
            f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text}"
        )
    body: dict[str, Any] = answer.json()  # every answer checked here is a JSON object
    return body


async def create_posts(run: Run, count: int, authors: list[str], desc: str) -> list[str]:
    """``count`` posts through the gateway, 16 at a time; returns the ids of those created."""
    ids: list[str] = []
    errors: Counter[str] = Counter()
    todo = iter(range(count))
    bar = tqdm(total=count, desc=desc, unit="post")

    async def worker() -> None:
        for i in todo:
            author = authors[i % len(authors)]
            body = post_body(next(run.numbers), who=author)
            try:
                answer = await run.http.post("/api/post", json=body, headers=run.auth(author))
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                continue
            if answer.status_code == 201:
                ids.append(answer.json()["id"])
                bar.update()
            else:
                errors[str(answer.status_code)] += 1

    await asyncio.gather(*(worker() for _ in range(16)))
    bar.close()
    run.created += len(ids)
    if errors:
        run.note(f"{desc}: {sum(errors.values())} posts failed ({dict(errors)})")
    return ids


async def notifications_caught_up(run: Run, desc: str) -> tuple[float, int]:
    """Wait (at most --wait s) until every post of this run has its notification.
    Returns the seconds waited and how many were still missing then."""
    start = time.monotonic()
    with tqdm(total=run.created, desc=desc, unit="event") as bar:
        while True:
            have = await notifications_stored(run) - run.notifications_before
            bar.update(min(have, run.created) - bar.n)
            waited = time.monotonic() - start
            if have >= run.created or waited > run.args.wait:
                return waited, max(0, run.created - have)
            await asyncio.sleep(0.2)


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float) -> float | None:
    """Seconds until ``check()`` is true (polled every 0.1 s); None if not within ``timeout``."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > timeout:
            return None
        await asyncio.sleep(0.1)
    return time.monotonic() - start


def notification_counts(run: Run, post_ids: list[str]) -> Counter[str]:
    """How many notifications each post has, read from the notification service's store."""
    notifications = run.collection("notification", "notifications")
    found: Counter[str] = Counter()
    for i in range(0, len(post_ids), 500):
        query = {"post_id": {"$in": post_ids[i : i + 500]}}
        found.update(d["post_id"] for d in notifications.find(query, {"post_id": 1}))
    return found


def exactly_once(run: Run, post_ids: list[str]) -> tuple[int, str]:
    counts = notification_counts(run, post_ids)
    good = sum(counts[p] == 1 for p in post_ids)
    missing, twice = sum(counts[p] == 0 for p in post_ids), sum(counts[p] > 1 for p in post_ids)
    return good, f"{good:,}/{len(post_ids):,}" + (
        f" ({missing} missing, {twice} repeated)" if good < len(post_ids) else ""
    )


# A service's /metrics as {(sample name, handler or consumer label): value}.
Metrics = dict[tuple[str, str], float]


async def scrape(run: Run, service: str) -> Metrics | None:
    """A service's /metrics as {(sample name, handler or consumer label): value}; None when it
    has none."""
    try:
        answer = await run.http.get(f"{run.target.services[service]}/metrics")
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    values: Metrics = defaultdict(float)
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            part = sample.labels.get("handler") or sample.labels.get("consumer", "")
            values[sample.name, part] += sample.value
    return values


async def notifications_stored(run: Run) -> int:
    """Notifications the consumer has stored, from its metrics: polling them costs the store
    nothing (a count on the local stand-in reads every document)."""
    answer = await run.http.get(f"{run.target.services['notification']}/metrics")
    answer.raise_for_status()
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples
            if sample.name == "consumer_events_total"
            and sample.labels == {"consumer": "notifications", "outcome": "applied"}
        )
    )


async def outbox_pending(run: Run) -> int:
    """Events not yet published, read from the store (the service's gauge is refreshed only
    once per sweep): the sparse index on ``outbox.due`` holds exactly those."""
    posts = run.collection("post", "posts")
    return await asyncio.to_thread(posts.count_documents, {DUE: {"$exists": True}})


def locust_totals(path: Path) -> tuple[int, int, float, float]:
    """Requests, failures, p50 and p99 (s) from Locust's final --json-file statistics.

    (Its --csv files are written before the requests in flight at the end have finished.)"""
    entries = json.loads(path.read_text())
    times: Counter[int] = Counter()
    for entry in entries:
        times.update({int(ms_): n for ms_, n in entry["response_times"].items()})
    requests = sum(e["num_requests"] for e in entries)
    failures = sum(e["num_failures"] for e in entries)

    def percentile(q: float) -> float:
        seen = 0
        for took, n in sorted(times.items()):
            seen += n
            if seen >= q * requests:
                return took / 1000
        return math.nan

    return requests, failures, percentile(0.5), percentile(0.99)


def where_time_goes(
    before: dict[str, Metrics | None], after: dict[str, Metrics | None]
) -> list[dict[str, str | float]]:
    """Mean of each histogram over the interval between two scrapes of every service."""
    rows: list[dict[str, str | float]] = []
    for service, scraped in after.items():
        now = scraped or {}
        then = before.get(service) or {}
        for (name, handler), count in now.items():
            metric = name.removesuffix("_count")
            if metric not in HISTOGRAMS or handler in ("/metrics", "/healthz"):
                continue
            count -= then.get((name, handler), 0)
            total = now[f"{metric}_sum", handler] - then.get((f"{metric}_sum", handler), 0)
            if count > 0:
                rows.append(
                    dict(
                        service=service,
                        metric=metric,
                        handler=handler,
                        count=count,
                        mean_s=total / count,
                    )
                )
    return rows


async def poll_healthz(http: httpx.AsyncClient, url: str, until: asyncio.Event) -> list[float]:
    """Seconds per GET of ``url``, one every 10 ms, until ``until`` is set."""
    samples = []
    while not until.is_set():
        start = time.perf_counter()
        with suppress(httpx.HTTPError):
            await http.get(url)
        samples.append(time.perf_counter() - start)
        await asyncio.sleep(0.01)
    return samples


def point_reads(posts: Collection[dict[str, Any]], post_id: ObjectId, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        posts.find_one({"_id": post_id})
        samples.append(time.perf_counter() - start)
    return samples


# --- scenarios -------------------------------------------------------------------------------


async def sign_up(run: Run) -> None:
    """0. A (the load's author), B (the reader) and the seeded posts' authors."""
    tag = uuid.uuid4().hex[:6]
    for user in ["A", "B", *SEEDERS]:
        run.emails[user] = email = f"{user.lower()}-{tag}@bench.example.com"
        _check(await run.http.post("/api/signup", json={"email": email, "password": PASSWORD}), 201)
        answer = await run.http.post("/api/signin", json={"email": email, "password": PASSWORD})
        run.tokens[user] = _check(answer, 200)["access_token"]
    run.notifications_before = await notifications_stored(run)


async def reads_vs_size(run: Run) -> None:
    """1. Feed, notification list and unread count (as B) at growing numbers of posts."""
    args, posts = run.args, run.collection("post", "posts")
    sizes = [args.posts // 10, args.posts] + [n for n in [args.max_posts or 0] if n > args.posts]
    series: dict[str, dict[str, list[float]]] = {
        name: {"p50": [], "p99": []} for name in [*READS, ANCHOR]
    }
    for size in sizes:
        missing = size - posts.estimated_document_count()
        if missing > 0:
            await create_posts(run, missing, SEEDERS, f"seed to {size:,}")
        waited, behind = await notifications_caught_up(run, f"notifications at {size:,}")
        if behind:
            run.note(
                f"reads at {size:,} posts: {behind:,} notifications missing after {waited:.0f} s"
            )
        some = posts.find_one({}, {"_id": 1})
        assert some is not None, "no post stored to read by _id"
        some_id = some["_id"]
        with tqdm(total=len(series) * args.requests, desc=f"reads at {size:,}", unit="req") as bar:
            for name, (path, params) in READS.items():
                samples = []
                for _ in range(args.requests):
                    start = time.perf_counter()
                    answer = await run.http.get(path, params=params, headers=run.auth("B"))
                    samples.append(time.perf_counter() - start)
                    _check(answer, 200)
                    bar.update()
                series[name]["p50"].append(pct(samples, 50))
                series[name]["p99"].append(pct(samples, 99))
            samples = await asyncio.to_thread(point_reads, posts, some_id, args.requests)
            bar.update(args.requests)
            series[ANCHOR]["p50"].append(pct(samples, 50))
            series[ANCHOR]["p99"].append(pct(samples, 99))
    run.data["reads"] = {"sizes": sizes, "series": series}
    anchor = series[ANCHOR]["p50"]
    for name in READS:
        p50 = series[name]["p50"]
        for i in range(1, len(sizes)):
            growth = p50[i] / p50[0]
            run.figures.append(
                Figure(
                    f"{name} p50, {sizes[i]:,} vs {sizes[0]:,} posts",
                    "≤ 1.5x",
                    f"{growth:.2f}x ({ms(p50[0])} → {ms(p50[i])})",
                    f"{anchor[i] / anchor[0]:.2f}x ({ms(anchor[0])} → {ms(anchor[i])})",
                    f"{p50[i] / anchor[i]:.0f}x at {sizes[i]:,}",
                    growth <= 1.5,
                )
            )


@dataclass(frozen=True)
class Answer:
    """One request of the load: its status (0: no answer), when it was sent and answered
    (time.time()), and the post it created."""

    status: int
    sent: float
    done: float
    post_id: str

    @property
    def took(self) -> float:
        return self.done - self.sent


async def run_locust(
    run: Run, rate: float, duration: int, authors: list[str]
) -> tuple[list[Answer], Path]:
    """Locust headless: ``rate`` posts/s for ``duration`` s by ``authors``; returns every
    request's answer and Locust's statistics file."""
    users = math.ceil(2 * rate)  # enough free users for the schedule with 2 s answers
    answers_csv, stats = run.out / "answers.csv", run.out / "locust"
    answers_csv.write_text("")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BENCH_TOKENS": ",".join(run.tokens[author] for author in authors),
        "BENCH_RATE": str(rate),
        "BENCH_ANSWERS": str(answers_csv),
    }
    with (run.out / "locust.log").open("a") as log:
        locust = await asyncio.create_subprocess_exec(
            *(str(ROOT / ".venv" / "bin" / "locust"), "-f", str(ROOT / "bench" / "locustfile.py")),
            *("--headless", "--only-summary", "-u", str(users), "-r", str(users)),
            *("--run-time", f"{duration}s", "--stop-timeout", "10"),
            *("--host", run.target.gateway, "--json-file", str(stats)),
            env=env,
            stdout=log,
            stderr=log,
        )
        start = time.monotonic()
        with tqdm(total=duration, desc=f"{rate:g} posts/s (Locust)", unit="s") as bar:
            while locust.returncode is None:
                with suppress(TimeoutError):
                    await asyncio.wait_for(locust.wait(), 1)
                bar.update(min(duration, int(time.monotonic() - start)) - bar.n)
    answers = [
        Answer(int(status), float(sent), float(done), post_id)
        for status, sent, done, post_id in csv.reader(answers_csv.read_text().splitlines())
    ]
    return answers, Path(f"{stats}.json")


def created_by(answers: list[Answer]) -> dict[str, Answer]:
    """The answers that created a post, by its id."""
    return {a.post_id: a for a in answers if a.status == 201}


async def sustained_load(run: Run) -> None:
    """2. --rate posts/s for --duration s (Locust) while B's notification list is polled."""
    args, target = run.args, run.target
    before = {s: await scrape(run, s) for s in target.services}
    probe, stop = NotificationProbe(run.http, run.auth("B")), asyncio.Event()
    probe_task = asyncio.create_task(probe.run(stop))
    await probe.started.wait()
    stored_before = await notifications_stored(run)
    answers, stats = await run_locust(run, args.rate, args.duration, ["A"])
    created = {post_id: answer.done for post_id, answer in created_by(answers).items()}
    run.created += len(created)

    async def drained() -> bool:
        """Every event published (outbox), none waiting (queue), each one stored (consumer)."""
        pending, ready, stored = await asyncio.gather(
            outbox_pending(run), target.queue_ready(), notifications_stored(run)
        )
        return pending == 0 and ready == 0 and stored >= stored_before + len(created)

    empty_after = await wait_for(drained, args.wait)

    async def all_seen() -> bool:
        return not created.keys() - probe.first_seen.keys()

    await wait_for(all_seen, args.wait)
    stop.set()
    await probe_task
    after = {s: await scrape(run, s) for s in target.services}
    run.data["where_time_goes"] = where_time_goes(before, after)

    requests, failures, post_p50, post_p99 = locust_totals(stats)
    t0 = min(created.values(), default=0)
    seen = {p: probe.first_seen[p] - at for p, at in created.items() if p in probe.first_seen}
    p50, p99 = p50_p99([*seen.values()])
    anchor = await broker_round_trip(target.rabbit_url, 300)
    a50, a99 = pct(anchor, 50), pct(anchor, 99)
    good, once = await asyncio.to_thread(exactly_once, run, list(created))
    run.data["sustained"] = {
        "rate": args.rate,
        "duration_s": args.duration,
        "posts": len(created),
        "requests": requests,
        "failures": failures,
        "post_p50_s": post_p50,
        "post_p99_s": post_p99,
        "probe_polls": probe.polls,
        "probe_errors": probe.errors,
        "p50_s": p50,
        "p99_s": p99,
        "anchor_p50_s": a50,
        "anchor_p99_s": a99,
        "points": sorted((created[p] - t0, latency) for p, latency in seen.items()),
    }
    run.note(
        f"sustained load: {len(created):,} posts in {args.duration} s "
        f"({len(created) / args.duration:.1f}/s, asked {args.rate:g}/s), "
        f"POST p50 {ms(post_p50)}, p99 {ms(post_p99)}; the probe polled {probe.polls:,} times "
        f"({probe.errors} errors) and saw {len(seen):,} of the {len(created):,} posts"
    )
    unseen = len(created) - len(seen)
    run.figures += [
        Figure(
            f"errors at {args.rate:g} posts/s for {args.duration} s",
            "0",
            f"{failures} of {requests:,} requests",
            met=failures == 0 and requests > 0,
        ),
        Figure(
            "posts/s held by the load",
            f"{args.rate:g}/s",
            f"{len(created) / args.duration:.1f}/s",
            met=len(created) / args.duration >= 0.95 * args.rate,
        ),
        Figure("notification exactly once per post", "all", once, met=good == len(created) > 0),
        *latency_figures("post → notification", p50, p99, a50, a99, unseen, "never seen"),
        Figure(
            "outbox and queue empty after the load stops",
            "≤ 2 s",
            f"{empty_after:.1f} s" if empty_after is not None else f"not in {args.wait:.0f} s",
            met=empty_after is not None and empty_after <= 2,
        ),
    ]


async def backlog_drain(run: Run) -> None:
    """3. --backlog posts while the broker is down, then the time to deliver them all."""
    rabbit = run.target.rabbit
    if rabbit is None:
        run.note("--target: the broker-outage scenario (backlog drain) is skipped")
        return
    waited, behind = await notifications_caught_up(run, "notifications before the outage")
    if behind:
        run.note(
            f"backlog: {behind:,} earlier notifications were still missing when the broker stopped"
        )
    await asyncio.to_thread(rabbit.stop)
    start = time.monotonic()
    ids = await create_posts(run, run.args.backlog, SEEDERS, "posts while the broker is down")
    run.note(
        f"backlog: {len(ids):,} posts created in {time.monotonic() - start:.0f} s, broker down"
    )
    await asyncio.to_thread(rabbit.start)
    waited, behind = await notifications_caught_up(run, "backlog drain")
    rate = (len(ids) - behind) / waited
    anchor = await broker_throughput(run.target.rabbit_url, len(ids))
    good, once = await asyncio.to_thread(exactly_once, run, ids)
    run.data["backlog"] = {
        "posts": len(ids),
        "drain_s": waited,
        "missing": behind,
        "rate": rate,
        "anchor": anchor,
    }
    run.figures.append(
        Figure(
            f"backlog drain after a broker outage ({len(ids):,} posts)",
            "≥ 500 events/s",
            f"{rate:.0f} events/s ({waited:.1f} s from broker ready; exactly once {once})",
            f"{anchor:.0f} msg/s raw aio-pika",
            f"{rate / anchor:.2f}x",
            rate >= 500 and good == len(ids),
        )
    )


async def sign_ins(run: Run) -> None:
    """4. --signins sign-ins at once while auth's /healthz is polled directly every 10 ms."""
    n, target = run.args.signins, run.target
    healthz = f"{target.services['auth']}/healthz"
    # A running `make run` limits sign-ins at its gateway (5/s): go to the service itself there.
    base = target.gateway if target.rabbit else target.services["auth"]
    users = list(run.emails.values())
    turned_away = 0

    async def sign_in(http: httpx.AsyncClient, email: str) -> httpx.Response:
        # nginx's burst allowance (10) counts the requests of one millisecond whatever the
        # rate: the few it turns away (429) try again 10 ms later.
        nonlocal turned_away
        for _ in range(20):
            body = {"email": email, "password": PASSWORD}
            answer = await http.post(f"{base}/api/signin", json=body)
            if answer.status_code != 429:
                break
            turned_away += 1
            await asyncio.sleep(0.01)
        return answer

    async with httpx.AsyncClient(timeout=30) as probe, httpx.AsyncClient(timeout=60) as http:
        idle_stop = asyncio.Event()
        asyncio.get_running_loop().call_later(3, idle_stop.set)
        idle = await poll_healthz(probe, healthz, idle_stop)
        stop = asyncio.Event()
        poller = asyncio.create_task(poll_healthz(probe, healthz, stop))
        start = time.perf_counter()
        answers = await asyncio.gather(
            *(sign_in(http, users[i % len(users)]) for i in range(n)), return_exceptions=True
        )
        took = time.perf_counter() - start
        stop.set()
        busy = await poller
    outcomes = Counter(
        a.status_code if isinstance(a, httpx.Response) else type(a).__name__ for a in answers
    )
    p99, idle99 = pct(busy, 99), pct(idle, 99)
    run.data["sign_ins"] = {
        "count": n,
        "outcomes": outcomes,
        "retried_429": turned_away,
        "took_s": took,
        "healthz_p99_s": p99,
        "idle_p99_s": idle99,
    }
    retried = f", {turned_away} retried after a 429" if turned_away else ""
    run.figures += [
        Figure(
            f"{n} sign-ins at once",
            "all 200",
            f"{outcomes[200]}/{n} in {took:.1f} s{retried}",
            met=outcomes[200] == n,
        ),
        Figure(
            f"auth /healthz p99 during {n} sign-ins",
            "< 50 ms",
            f"{ms(p99)} ({len(busy)} polls)",
            f"{ms(idle99)} idle",
            f"{p99 / idle99:.1f}x",
            p99 < 0.05,
        ),
    ]


async def push_latency(run: Run) -> None:
    """5. Post → browser: --push-posts posts at --push-rate/s while B holds two streams per
    notification replica through the gateway, with --replicas replicas of every service."""
    args, target = run.args, run.target
    replicas, gateway = args.replicas, target.gateway
    if target.stack is not None:  # scale the private stack out; a running one is as it was started
        for service in ("auth", "post", "notification"):
            for replica in range(len(target.stack.replicas(service)) + 1, replicas + 1):
                await asyncio.to_thread(target.stack.start_service, service, replica)
        gateway = await asyncio.to_thread(target.stack.start_gateway, "scaled-gateway", "10000r/s")
    else:
        run.note("--target: push is timed with the replicas the running stack has")
    async with contextlib.AsyncExitStack() as streams:
        clients = [
            await streams.enter_async_context(StreamClient(gateway, run.tokens["B"]))
            for _ in range(2 * replicas)
        ]
        sent = await paced_posts(run, gateway, args.push_posts, args.push_rate)

        async def all_pushed() -> bool:
            return all(sent.keys() <= client.first_at.keys() for client in clients)

        await wait_for(all_pushed, args.wait)
    samples = [
        client.first_at[post] - at
        for client in clients
        for post, at in sent.items()
        if post in client.first_at
    ]
    expected = len(sent) * len(clients)
    once = sum(
        count == 1
        for client in clients
        for post, count in client.times_pushed().items()
        if post in sent
    )
    p50, p99 = p50_p99(samples)
    anchor = await broker_round_trip(target.rabbit_url, 300)
    a50, a99 = pct(anchor, 50), pct(anchor, 99)
    run.data["push"] = {
        "replicas": replicas,
        "streams": len(clients),
        "posts": len(sent),
        "samples": len(samples),
        "reconnects": sum(client.connects - 1 for client in clients),
        "p50_s": p50,
        "p99_s": p99,
        "anchor_p50_s": a50,
        "anchor_p99_s": a99,
    }
    where = f"{replicas} replicas, {len(clients)} streams"
    missing = expected - len(samples)
    run.figures += [
        *latency_figures(
            "post → browser by push", p50, p99, a50, a99, missing, "never pushed", where
        ),
        Figure(
            "each stream got each post's notification once",
            "all",
            f"{once:,}/{expected:,}",
            met=once == expected > 0,
        ),
    ]


async def paced_posts(run: Run, gateway: str, count: int, rate: float) -> dict[str, float]:
    """``count`` posts by A, the i-th sent at ``i / rate`` s (open loop, whatever the answers
    take); returns each created post's id with the time.time() its request was sent."""
    sent: dict[str, float] = {}
    start = time.monotonic()

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        at = time.time()
        body = post_body(next(run.numbers), who="A")
        answer = await run.http.post(f"{gateway}/api/post", json=body, headers=run.auth("A"))
        if answer.status_code == 201:
            sent[answer.json()["id"]] = at

    with tqdm(total=count, desc="posts while push is timed", unit="post") as bar:
        tasks = [asyncio.create_task(one(i)) for i in range(count)]
        for task in asyncio.as_completed(tasks):
            await task
            bar.update()
    run.created += len(sent)
    return sent


async def in_list(run: Run, user: str, post_ids: set[str]) -> int:
    """How many of ``post_ids`` the user's notification list shows, read newest first a page
    of 100 at a time (as far as those posts can reach)."""
    found: set[str] = set()
    cursor, pages = None, math.ceil(len(post_ids) / 100) + 5
    for _ in range(pages):
        params: dict[str, str | int] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        answer = await run.http.get("/api/notification", params=params, headers=run.auth(user))
        page = _check(answer, 200)
        found |= post_ids & {item["post_id"] for item in page["items"]}
        cursor = page["next_cursor"]
        if not cursor or found == post_ids:
            break
    return len(found)


async def load_step(
    run: Run, stream: StreamClient, roots: dict[str, int], rate: float, wait: float
) -> dict[str, Any]:
    """One step of open-loop posts by the four authors at ``rate`` for --step-duration s, then
    up to ``wait`` s for B's stream to deliver every post created: what was asked, sent,
    accepted and refused, the latencies, and the CPU per 1,000 posts of every process."""
    args = run.args
    before = cpu.snapshot(roots)
    answers, _stats = await run_locust(run, rate, args.step_duration, SEEDERS)
    created = created_by(answers)
    run.created += len(created)
    load_stopped = time.monotonic()

    async def delivered() -> bool:
        return created.keys() <= stream.first_at.keys()

    await wait_for(delivered, wait)
    after = cpu.snapshot(roots)
    delivered_in = time.monotonic() - load_stopped
    latencies = [stream.first_at[p] - a.sent for p, a in created.items() if p in stream.first_at]
    accepted = [a.took for a in created.values()]
    statuses = Counter(a.status for a in answers)
    listed = await in_list(run, "B", set(created))
    good, once = await asyncio.to_thread(exactly_once, run, list(created))
    post_p50, post_p99 = p50_p99(accepted)
    p50, p99 = p50_p99(latencies)
    return {
        "rate": rate,
        "requests": len(answers),
        "sent_rate": len(answers) / args.step_duration,
        "posts": len(created),
        "statuses": {str(status): n for status, n in sorted(statuses.items())},
        "failures": len(answers) - len(created),
        "post_p50_s": post_p50,
        "post_p99_s": post_p99,
        "p50_s": p50,
        "p99_s": p99,
        "delivered": len(latencies),
        "delivered_after_s": delivered_in,
        "listed": listed,
        "exactly_once": once,
        "all_once": good == len(created),
        "cpu_per_1000": cpu.per_thousand(before, after, len(created)),
    }


async def capacity(run: Run) -> None:
    """6. Steps of open-loop load (--steps posts/s, --step-duration s each), posts with code by
    four authors, while B holds a stream through the gateway: the highest rate with 0 errors,
    the rate held and post → stream p99 ≤ 1 s (timed from the request being sent; each post also
    in B's list, exactly one notification each). CPU per 1,000 posts of every process at each
    step. Anchor: the same per-post work by the bare clients (bench/pipeline.py). Then twice
    that rate: the post service sheds what it cannot take (503 + Retry-After), accepted posts
    keep p99 ≤ 1 s, and each is notified once within 60 s of the load's end."""
    args, target = run.args, run.target
    roots = target.processes()
    first = cpu.snapshot(roots)
    steps: list[dict[str, Any]] = []
    held = None

    async def drained() -> bool:
        pending, ready = await asyncio.gather(outbox_pending(run), target.queue_ready())
        return pending == 0 and ready == 0

    async with StreamClient(target.gateway, run.tokens["B"]) as stream:
        for rate in args.steps:
            await wait_for(drained, args.wait)
            step = await load_step(run, stream, roots, rate, args.wait)
            step["ok"] = (
                step["requests"] > 0
                and step["failures"] == 0
                and step["requests"] >= 0.95 * rate * args.step_duration
                and step["p99_s"] is not None
                and step["p99_s"] <= 1
                and step["delivered"] == step["listed"] == step["posts"]
                and step["all_once"]
            )
            steps.append(step)
            if not step["ok"]:
                break
            held = rate
        await wait_for(drained, args.wait)
        overload = await load_step(run, stream, roots, 2 * (held or args.steps[0]), 60)
    healthy = all(
        [
            (await run.http.get(f"{url}/healthz")).status_code == 200
            for url in target.services.values()
        ]
    )
    last = cpu.snapshot(roots)
    anchor = None
    if target.stack is not None:
        anchor = await pipeline_rate(target.mongo_url, target.s3(), target.rabbit_url)
    else:
        run.note("--target: the capacity anchor (bare clients) runs on a private stack only")
    run.data["capacity"] = {
        "steps": steps,
        "held": held,
        "overload": overload,
        "anchor_rate": anchor,
        "rss_before": {name: usage.rss for name, usage in first.items()},
        "rss_after": {name: usage.rss for name, usage in last.items()},
    }
    statuses = overload["statuses"]
    other_5xx = sum(
        n for status, n in statuses.items() if status.startswith("5") and status != "503"
    )
    p99 = overload["post_p99_s"]
    run.figures += [
        Figure(
            "capacity: posts/s with 0 errors and post → stream p99 ≤ 1 s for "
            f"{args.step_duration} s",
            "≥ 200/s",
            f"{held or 0:g}/s"
            + ("" if steps and not steps[-1]["ok"] else " (the highest step asked)"),
            "-" if anchor is None else f"{anchor:.0f}/s bare clients",
            "-" if anchor is None or not held else f"{held / anchor:.2f}x",
            held is not None and held >= 200,
        ),
        Figure(
            f"past the limit: {overload['rate']:g} posts/s for {args.step_duration} s, "
            "accepted POST p99",
            "≤ 1 s",
            f"{ms(p99)} ({overload['posts']:,} accepted, {statuses.get('503', 0):,} refused 503, "
            f"{other_5xx} other 5xx; answers {statuses})",
            met=p99 is not None and p99 <= 1 and other_5xx == 0 and healthy,
        ),
        Figure(
            "past the limit: every accepted post notified once",
            "≤ 60 s after",
            f"{overload['delivered']:,}/{overload['posts']:,} on the stream in "
            f"{overload['delivered_after_s']:.1f} s, exactly once {overload['exactly_once']}",
            met=overload["delivered"] == overload["posts"]
            and overload["delivered_after_s"] <= 60
            and overload["all_once"],
        ),
    ]


SCENARIOS = [
    sign_up,
    reads_vs_size,
    sustained_load,
    backlog_drain,
    sign_ins,
    capacity,  # before push_latency, which scales the stack out
    push_latency,
]
