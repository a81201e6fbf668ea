"""What auth_service does, apart from HTTP: the routes (api.py) parse the request, call one of
these and shape the answer; tests call them directly against the real store."""

from auth_service.passwords import PasswordHasher
from auth_service.store import User, UserStore
from auth_service.tokens import TokenIssuer
from common.limits import RateLimit


async def sign_up(
    email: str, password: str, *, users: UserStore, passwords: PasswordHasher
) -> User:
    """A new account; ``EmailTaken`` if the address has one (the unique index decides races)."""
    return await users.create(email, await passwords.hash(password))


async def sign_in(
    email: str,
    password: str,
    *,
    users: UserStore,
    passwords: PasswordHasher,
    tokens: TokenIssuer,
    failures: RateLimit,
) -> str | None:
    """An access token for the account, or None for an unknown email or a wrong password. An
    unknown email is checked against a dummy hash: both failures take the same time.

    Failures are counted per email, known or not (so a refusal does not tell which exist);
    past ``failures``' limit the sign-in raises ``Limited``, with the right password too (else
    guessing would go on). The password is checked first either way: one point operation per
    sign-in, and a refusal that tells nothing about the password.
    """
    user = await users.by_email(email)
    matches = await passwords.verify(password, user.password_hash if user else None)
    if user is None or not matches:
        await failures.take(email)
        return None
    await failures.check(email)
    return tokens.mint(user.id, user.email)
