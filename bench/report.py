"""What a bench run leaves in .artifacts/bench/: report.md, results.json and two plots."""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import matplotlib
import matplotlib.axes
import matplotlib.figure
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt

READ_PLOT = "read-latency-vs-size.png"
EVENT_PLOT = "post-to-notification.png"
CPU_PLOT = "cpu-per-post.png"


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
        for name, made in (
            (READ_PLOT, _reads(data, out)),
            (EVENT_PLOT, _events(data, out)),
            (CPU_PLOT, _cpu(data, out)),
        )
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
        if name != CPU_PLOT:
            lines += ["", f"![{name}]({name})"]
    if capacity := data.get("capacity"):
        lines += _capacity(capacity)
        if CPU_PLOT in plots:
            lines += ["", f"![{CPU_PLOT}]({CPU_PLOT})"]
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


def _save(
    fig: matplotlib.figure.Figure,
    ax: matplotlib.axes.Axes,
    title: str,
    path: Path,
    legend_outside: bool = True,
    grid_axis: Literal["both", "x", "y"] = "both",
) -> bool:
    """Title, grid and legend; the plot written to ``path`` and closed."""
    ax.set_title(title)
    ax.grid(True, which="both", axis=grid_axis, alpha=0.3)
    if legend_outside:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    else:
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _processes(steps: list[dict[str, Any]]) -> list[str]:
    """Every process measured at any step, the costliest first."""
    return sorted(
        {name for step in steps for name in step["cpu_per_1000"]},
        key=lambda name: -max(step["cpu_per_1000"].get(name, 0) for step in steps),
    )


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
    return _save(fig, ax, "Reads vs data size (solid p50, dashed p99)", out / READ_PLOT)


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
    title = f"Post → notification, {sustained['rate']:g} posts/s asked"
    return _save(fig, ax, title, out / EVENT_PLOT, legend_outside=False)


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def _capacity(capacity: dict[str, Any]) -> list[str]:
    steps = capacity["steps"]
    lines = [
        "",
        "## Capacity steps (open loop, posts with code by four authors, B's live stream)",
        "",
        "The last row is twice the rate held: past the limit, the post service sheds with `503`.",
        "",
        "| asked | sent | answers | accepted POST p50 / p99 | post → stream p50 / p99 | delivered "
        "| in list | exactly once | CPU per post | held |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    overload = capacity.get("overload")
    for step in [*steps, *([overload] if overload else [])]:
        per_post = sum(step["cpu_per_1000"].values())
        answers = ", ".join(f"{n:,} x {status}" for status, n in step["statuses"].items())
        held = "past the limit" if step is overload else "yes" if step["ok"] else "**no**"
        lines.append(
            f"| {step['rate']:g}/s | {step['sent_rate']:.1f}/s | {answers} | "
            f"{ms(step['post_p50_s'])} / {ms(step['post_p99_s'])} | "
            f"{ms(step['p50_s'])} / {ms(step['p99_s'])} | {step['delivered']:,}/{step['posts']:,} "
            f"| {step['listed']:,} | {step['exactly_once']} | {per_post:.1f} ms | {held} |"
        )
    names = _processes(steps)
    lines += [
        "",
        "## Where the CPU goes (CPU seconds per 1,000 posts, each process with its children)",
        "",
        "| process | "
        + " | ".join(f"{step['rate']:g}/s" for step in steps)
        + " | RSS before | RSS after |",
        "|---|" + "---|" * (len(steps) + 2),
    ]
    before, after = capacity["rss_before"], capacity["rss_after"]
    for name in names:
        cells = (f"{step['cpu_per_1000'].get(name, 0):.2f}" for step in steps)
        rss = (
            f"{_mib(before[name])} | {_mib(after[name])}"
            if before.get(name) and after.get(name)
            else "- | -"
        )
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {rss} |")
    totals = (f"**{sum(step['cpu_per_1000'].values()):.2f}**" for step in steps)
    lines.append("| all | " + " | ".join(totals) + " | | |")
    return lines


def _cpu(data: dict[str, Any], out: Path) -> bool:
    capacity = data.get("capacity")
    if not capacity or not capacity["steps"]:
        return False
    steps = capacity["steps"]
    names = _processes(steps)
    labels = [f"{step['rate']:g}/s" for step in steps]
    fig, ax = plt.subplots(figsize=(9, 5))
    bottom = [0.0] * len(steps)
    for name in names:
        values = [step["cpu_per_1000"].get(name, 0) for step in steps]
        ax.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set(xlabel="posts/s asked", ylabel="CPU seconds per 1,000 posts (ms per post)")
    title = "Where the CPU goes, per post, at each capacity step"
    return _save(fig, ax, title, out / CPU_PLOT, grid_axis="y")
