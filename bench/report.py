"""What a bench run leaves in .artifacts/bench/: report.md, results.json and two plots."""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt

READ_PLOT = "read-latency-vs-size.png"
EVENT_PLOT = "post-to-notification.png"


@dataclass
class Figure:
    name: str
    target: str
    measured: str
    anchor: str = "-"
    ratio: str = "-"
    met: bool | None = None  # None: no target, shown for context


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def write(figures: list[Figure], data: dict[str, Any], out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"figures": [asdict(f) for f in figures], **data}, indent=1, default=str)
    )
    plots = [
        name
        for name, made in ((READ_PLOT, _reads(data, out)), (EVENT_PLOT, _events(data, out)))
        if made
    ]
    text = _markdown(figures, data, plots)
    (out / "report.md").write_text(text)
    return text


def _markdown(figures: list[Figure], data: dict[str, Any], plots: list[str]) -> str:
    machine, run = data["machine"], data["run"]
    met = {True: "yes", False: "**no**", None: "-"}
    lines = [
        "# Benchmark",
        "",
        f"{machine['date']} · {run['mode']} · {run['elapsed_s'] / 60:.1f} min · "
        f"{machine['nproc']} cores ({machine['cpu']}), {machine['memory_gib']:.0f} GiB, "
        f"load average {machine['loadavg']} at the start · `{run['command']}`",
        "",
        "| figure | target | measured | anchor | ratio | met |",
        "|---|---|---|---|---|---|",
        *(
            f"| {f.name} | {f.target} | {f.measured} | {f.anchor} | {f.ratio} | {met[f.met]} |"
            for f in figures
        ),
        "",
        "Each anchor is the bare part underneath, measured in the same run on the same machine: "
        "a `find_one` by `_id` through pymongo on the same store (reads), a publish-with-confirm "
        "→ consume on the same broker with aio-pika (events), `/healthz` while idle (sign-ins). "
        "The ratio is measured ÷ anchor (for the reads: p50 ÷ the anchor's p50 at the larger "
        "size, while `measured` is the read's own growth from the smaller size).",
    ]
    if reads := data.get("reads"):
        lines += ["", "## Reads vs data size (p50 / p99, sequential, through the gateway)", ""]
        sizes = reads["sizes"]
        lines += [
            "| read | " + " | ".join(f"{n:,} posts" for n in sizes) + " |",
            "|---|" + "---|" * len(sizes),
        ]
        for name, series in reads["series"].items():
            cells = (
                f"{ms(p50)} / {ms(p99)}"
                for p50, p99 in zip(series["p50"], series["p99"], strict=True)
            )
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name in plots:
        lines += ["", f"![{name}]({name})"]
    if where := data.get("where_time_goes"):
        lines += [
            "",
            "## Where time goes (during the sustained load, from each service's /metrics)",
            "",
            "| service | histogram | route or consumer | count | mean |",
            "|---|---|---|---|---|",
            *(
                f"| {w['service']} | {w['metric']} | {w['handler'] or '-'} | {w['count']:.0f} "
                f"| {ms(w['mean_s'])} |"
                for w in where
            ),
        ]
    notes = data.get("notes", [])
    if took := data.get("scenario_s"):
        notes = [
            *notes,
            "seconds per scenario: " + ", ".join(f"{k} {s:.0f}" for k, s in took.items()),
        ]
    if notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"


def _reads(data: dict[str, Any], out: Path) -> bool:
    reads = data.get("reads")
    if not reads or len(reads["sizes"]) < 2:
        return False
    fig, ax = plt.subplots(figsize=(10, 5))
    for name, series in reads["series"].items():
        line = ax.plot(reads["sizes"], [v * 1000 for v in series["p50"]], "o-", label=f"{name} p50")
        color = line[0].get_color()
        ax.plot(
            reads["sizes"],
            [v * 1000 for v in series["p99"]],
            "o--",
            color=color,
            alpha=0.6,
            label=f"{name} p99",
        )
    ax.set(xscale="log", yscale="log", xlabel="posts stored", ylabel="latency (ms)")
    ax.set_xticks(reads["sizes"], [f"{n:,}" for n in reads["sizes"]], minor=False)
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_title("Reads vs data size (solid p50, dashed p99)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(out / READ_PLOT, dpi=110)
    plt.close(fig)
    return True


def _events(data: dict[str, Any], out: Path) -> bool:
    sustained = data.get("sustained")
    if not sustained or not sustained["points"]:
        return False
    x, y = zip(*sustained["points"], strict=True)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.scatter(x, [v * 1000 for v in y], s=6, label="post → notification (each post)")
    ax.axhline(1000, color="red", linestyle="--", label="target p99 1 s")
    if p99 := sustained.get("p99_s"):
        ax.axhline(p99 * 1000, color="orange", label=f"measured p99 {p99 * 1000:.0f} ms")
    if anchor := sustained.get("anchor_p99_s"):
        ax.axhline(
            anchor * 1000, color="green", label=f"raw broker round trip p99 {anchor * 1000:.1f} ms"
        )
    ax.set(
        xlabel="seconds since the load started (post created)", ylabel="latency (ms)", yscale="log"
    )
    ax.set_title(f"Post → notification, {sustained['rate']:g} posts/s asked")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out / EVENT_PLOT, dpi=110)
    plt.close(fig)
    return True
