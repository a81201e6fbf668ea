"""Draw one trace as a span tree over time (docs/trace.png, the README's picture of a trace).

Its input is what tests/e2e/test_traces.py keeps of a real run: every span one post made, from
the request to the push, as exported by the processes it passed. Where Jaeger runs (the compose
profile `observability`), its UI shows the same tree.

    python -m scripts.render_trace [.artifacts/traces/post-trace.json] [docs/trace.png]
"""

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
Span = dict[str, Any]  # as devstack/otlp.py ReceivedSpan.as_dict() gives it
COLOURS = {"post": "#4c72b0", "notification": "#dd8452", "auth": "#55a868"}


def ordered(spans: list[Span]) -> list[tuple[int, Span]]:
    """Depth-first from the root(s), children by start time: (depth, span)."""
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[Span]] = {}
    for span in spans:
        children.setdefault(span["parent_id"] if span["parent_id"] in ids else "", []).append(span)
    out: list[tuple[int, Span]] = []

    def walk(parent: str, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s["start_ns"]):
            out.append((depth, span))
            walk(span["span_id"], depth + 1)

    walk("", 0)
    return out


def render(spans: list[Span], target: Path) -> None:
    rows = ordered(spans)
    start = min(s["start_ns"] for s in spans)
    instances = sorted({s["instance"] for s in spans})
    # Each process as "<service> #n": its service's replicas numbered in a stable order.
    by_service: dict[str, list[str]] = {}
    for instance, service in sorted({(s["instance"], s["service"]) for s in spans}):
        by_service.setdefault(service, []).append(instance)
    replicas = {i: n for named in by_service.values() for n, i in enumerate(named, start=1)}
    fig, ax = plt.subplots(figsize=(11, 0.32 * len(rows) + 1.4))
    axis = ax.get_yaxis_transform()
    for row, (depth, span) in enumerate(rows):
        left = (span["start_ns"] - start) / 1e6
        width = max((span["end_ns"] - span["start_ns"]) / 1e6, 0.05)
        colour = COLOURS.get(span["service"], "#8172b2")
        ax.barh(row, width, left=left, color=colour, height=0.7)
        label = f"{span['name']}  ({span['service']} #{replicas[span['instance']]})"
        x = -0.75 + 0.025 * depth
        ax.text(x, row, label, ha="left", va="center", fontsize=8, transform=axis)
        ax.text(left + width, row, f" {width:.1f} ms", va="center", fontsize=7, color="#555")
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set_xlabel("ms since the request reached the post service")
    trace_id = spans[0]["trace_id"]
    processes = len(instances)
    ax.set_title(f"One post, one trace ({trace_id}): {len(spans)} spans from {processes} processes")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(target, dpi=110, bbox_inches="tight")


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".artifacts/traces/post-trace.json"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs/trace.png"
    render(json.loads(source.read_text()), target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
