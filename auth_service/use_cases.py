"""What auth_service does, apart from HTTP: the routes (api.py) parse the request, call one of
these and shape the answer; tests call them directly against the real store."""

from auth_service.passwords import PasswordHasher
from auth_service.store import User, UserStore
from auth_service.tokens import TokenIssuer


async def sign_up(
    email: str, password: str, *, users: UserStore, passwords: PasswordHasher
) -> User:
    """A new account; ``EmailTaken`` if the address has one (the unique index decides races)."""
    return await users.create(email, await passwords.hash(password))


async def sign_in(
    email: str, password: str, *, users: UserStore, passwords: PasswordHasher, tokens: TokenIssuer
) -> str | None:
    """An access token for the account, or None for an unknown email or a wrong password. An
    unknown email is checked against a dummy hash: both failures take the same time."""
    user = await users.by_email(email)
    matches = await passwords.verify(password, user.password_hash if user else None)
    if user is None or not matches:
        return None
    return tokens.mint(user.id, user.email)
