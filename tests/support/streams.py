"""What a failing stream test says: which notifications each stream missed."""

from devstack.sse import StreamClient


def what_each_missed(clients: list[StreamClient], ids: list[str]) -> str:
    """Per stream: the seq of each notification it was never sent (as others were sent it),
    and the Last-Event-ID of each of its connects."""
    seqs = {post: seq for client in clients for post, seq in client.seq_of.items()}
    lines = ["streams missing notifications:"]
    for i, client in enumerate(clients):
        missed = sorted(set(ids) - client.seen())
        lines.append(
            f"stream {i}: {len(missed)} of {len(ids)} missed {[seqs.get(p) for p in missed]}, "
            f"resumed after {client.resumed_after}, {client.state()}"
        )
    return "\n".join(lines)
