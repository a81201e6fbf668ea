"""`make bench`: the performance figures of issue 7, each measured beside an anchor in the same run.

The machine is shared and noisy, so no figure stands alone: each comes with the same kind of work
done by the bare parts underneath (the raw driver on the same store, the raw broker client on the
same broker, the same endpoint when idle) and is reported as a ratio to it. See __main__.py.
"""


def post_body(n: int, who: str = "bench") -> dict[str, str]:
    """A question with a code snippet of a few hundred bytes, different each time."""
    code = "\n".join(
        [
            f"def handler_{n}(request):",
            f'    """Answer request {n} from {who}."""',
            "    items = [item for item in request.items if item.visible]",
            "    total = sum(item.price * item.quantity for item in items)",
            f"    if total > {n % 997}:",
            "        return {'status': 'over', 'total': total}",
            "    return {'status': 'ok', 'total': total, 'count': len(items)}",
        ]
    )
    text = f"Why does handler {n} return the wrong total? ({who})"
    return {"text": text, "code": code, "language": "python"}
