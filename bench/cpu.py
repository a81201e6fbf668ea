"""Where the CPU goes: CPU seconds and resident memory of every process of the stack.

Each named process is the root of a tree (a service and its workers, RabbitMQ's wrapper and its
Erlang VM, nginx's master and workers): its figures are the sum over the tree, read through
psutil from /proc. The load generator runs as a child of the bench that has exited by the time
it is read, so its CPU comes from the bench's own rusage of its children.
"""

import resource
from dataclasses import dataclass

import psutil

LOAD = "load generator (Locust)"
BENCH = "bench (streams, checks)"


@dataclass(frozen=True)
class Usage:
    cpu_s: float  # user + system, seconds
    rss: int  # bytes


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _usage(processes: list[psutil.Process]) -> Usage:
    cpu, rss = 0.0, 0
    for process in processes:
        try:
            times = process.cpu_times()
            cpu += times.user + times.system
            rss += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return Usage(cpu, rss)


def snapshot(roots: dict[str, int]) -> dict[str, Usage]:
    """Every tree's usage now, with the load generators that have exited (the bench's children)
    and the bench process itself."""
    usage = {name: _usage(_tree(pid)) for name, pid in roots.items()}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    usage[LOAD] = Usage(children.ru_utime + children.ru_stime, 0)
    usage[BENCH] = _usage([psutil.Process()])
    return usage


def per_thousand(before: dict[str, Usage], after: dict[str, Usage], posts: int) -> dict[str, float]:
    """CPU seconds per 1,000 posts of each process between two snapshots."""
    return {
        name: (after[name].cpu_s - before[name].cpu_s) * 1000 / posts
        for name in after
        if name in before and posts > 0
    }
