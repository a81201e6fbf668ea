"""How routes reach what the lifespan put on ``app.state``."""

from typing import Any, TypeVar

from fastapi import Depends, Request

T = TypeVar("T")


def from_state(name: str, kind: type[T]) -> Any:
    """A FastAPI dependency on ``app.state.<name>`` (set by the lifespan), typed as ``kind``:
    ``Posts = Annotated[PostStore, from_state("posts", PostStore)]``.

    ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in its thread
    pool, a hop to another thread and back for every request."""

    async def dependency(request: Request) -> T:
        value = getattr(request.app.state, name)
        if not isinstance(value, kind):
            raise TypeError(f"app.state.{name} is {type(value).__name__}, not {kind.__name__}")
        return value

    return Depends(dependency)
