"""Password hashing with bcrypt, off the event loop.

bcrypt takes at most 72 bytes (bcrypt 5 raises beyond): the API refuses longer passwords before
they get here. Sign-in for an unknown email still checks a password against a dummy hash, so
both failures take about the same time and do not tell which emails exist.
"""

import asyncio

import bcrypt

MAX_PASSWORD_BYTES = 72


class PasswordHasher:
    def __init__(self, rounds: int) -> None:
        self._rounds = rounds
        self._dummy_hash = bcrypt.hashpw(b"timing-equaliser", bcrypt.gensalt(rounds))

    async def hash(self, password: str) -> bytes:
        salt = bcrypt.gensalt(self._rounds)
        return await asyncio.to_thread(bcrypt.hashpw, password.encode(), salt)

    async def verify(self, password: str, hashed: bytes | None) -> bool:
        """``hashed=None`` (no such user) spends the same time and answers ``False``."""
        candidate = password.encode()
        if len(candidate) > MAX_PASSWORD_BYTES:
            candidate = candidate[:MAX_PASSWORD_BYTES]
            hashed = None  # never accept a password the hash could not have seen whole
        ok = await asyncio.to_thread(bcrypt.checkpw, candidate, hashed or self._dummy_hash)
        return ok and hashed is not None
