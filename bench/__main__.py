"""`python -m bench` (`make bench`): start a private stack, run the scenarios, write the report.

    python -m bench                                      the default run (about 8 minutes)
    python -m bench --posts 300 --duration 10 --backlog 500   a smoke run (about a minute)
    python -m bench --target http://127.0.0.1:8080       against a running `make run`

Scenarios (bench/scenarios.py), each figure beside its anchor from the same run:
  1. reads vs data size: feed, notification list, unread count at --posts/10 and --posts posts;
  2. sustained load: --rate posts/s for --duration s (Locust), post -> notification latency;
  3. backlog drain: --backlog posts while the broker is down, then events/s once it is back;
  4. sign-ins: --signins at once, and auth's /healthz meanwhile;
  5. push: post -> browser over the live stream with --replicas replicas of every service;
  6. capacity: --steps posts/s for --step-duration s each, the highest held within 1 s p99,
     CPU per 1,000 posts of every process.
--traces runs them with OpenTelemetry on (the overhead: compare with a run without).
Output: .artifacts/bench/report.md, results.json, read-latency-vs-size.png,
post-to-notification.png, cpu-per-post.png; --publish-docs copies the report and plots to
docs/bench/.
"""

import argparse
import asyncio
import os
import shlex
import shutil
import sys
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, scenarios
from bench.stack import private_stack, running_stack
from devstack import ROOT

OUT = ROOT / ".artifacts" / "bench"
DOCS = ROOT / "docs" / "bench"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--target", metavar="URL", help="the gateway of a running `make run` (no broker outage)")
    add(
        "--posts",
        type=int,
        default=10_000,
        help="posts at the larger read point (the smaller is a tenth)",
    )
    add("--max-posts", type=int, help="one more read point, e.g. 100000")
    add("--requests", type=int, default=200, help="sequential requests per read and size")
    add("--rate", type=float, default=50, help="posts/s of the sustained load")
    add("--duration", type=int, default=60, help="seconds of sustained load")
    add("--backlog", type=int, default=10_000, help="posts created while the broker is down")
    add("--signins", type=int, default=50, help="sign-ins sent at once")
    add("--wait", type=float, default=120, help="longest wait for notifications to catch up (s)")
    add("--replicas", type=int, default=3, help="replicas of each service for the push figure")
    add("--push-posts", type=int, default=300, help="posts whose push to the browser is timed")
    add("--push-rate", type=float, default=20, help="posts/s while push is timed")
    add(
        "--steps",
        type=float,
        nargs="+",
        default=[50, 75, 100, 125, 150, 175, 200, 250, 300],
        help="posts/s of each capacity step, in order (stops at the first that fails)",
    )
    add("--step-duration", type=int, default=30, help="seconds of each capacity step")
    add(
        "--traces",
        action="store_true",
        help="every service exports OpenTelemetry traces (to a receiver process of the stack's)",
    )
    add("--publish-docs", action="store_true", help="copy report.md and the plots to docs/bench/")
    add(
        "--only",
        nargs="+",
        metavar="SCENARIO",
        choices=[s.__name__ for s in scenarios.SCENARIOS if s is not scenarios.sign_up],
        help="run just these scenarios (after signing up)",
    )
    return parser.parse_args()


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    meminfo = Path("/proc/meminfo").read_text()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.splitlines()
                if line.startswith("model name")
            ),
            "?",
        ),
        "memory_gib": int(
            next(line.split()[1] for line in meminfo.splitlines() if line.startswith("MemTotal"))
        )
        / 2**20,
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main() -> None:
    args = parse_args()
    started, host = time.monotonic(), machine()
    OUT.mkdir(parents=True, exist_ok=True)
    stack = (
        nullcontext(running_stack(args.target))
        if args.target
        else private_stack(traces=args.traces)
    )
    with stack as target:
        run = asyncio.run(scenarios.run_all(args, target, OUT))
    run.data["machine"] = host
    run.data["run"] = {
        "mode": f"against {args.target}" if args.target else "private stack",
        "elapsed_s": time.monotonic() - started,
        "command": shlex.join(["python", "-m", "bench", *sys.argv[1:]]),
        "args": vars(args),
    }
    text = report.write(run.figures, run.data, OUT)
    if args.publish_docs:
        DOCS.mkdir(parents=True, exist_ok=True)
        for path in [OUT / "report.md", *OUT.glob("*.png")]:
            shutil.copy(path, DOCS / path.name)
    print(text)
    print(
        f"written to {OUT.relative_to(ROOT)}/"
        + (f" and {DOCS.relative_to(ROOT)}/" if args.publish_docs else "")
    )


if __name__ == "__main__":
    main()
