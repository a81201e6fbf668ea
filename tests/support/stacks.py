"""Test stacks on the run's servers (tests/conftest.py and tests/faults/conftest.py)."""

from devstack.stack import Names, Stack


def configured(name, mongo_url, s3, rabbit, keys, tmp_path_factory, suffix: str) -> Stack:
    """A stack on these servers, its names ``<name><suffix>``; nothing started yet."""
    return Stack.configure(
        name,
        mongo_url=mongo_url,
        s3=s3,
        rabbit_url=rabbit.url,
        keys=keys,
        names=Names(f"{name}{suffix}"),
        workdir=tmp_path_factory.mktemp(name),
    )
