"""Verifying access tokens, and the FastAPI dependency that gives routes the caller.

Only auth_service holds the private key and mints tokens; every other service verifies them with
the public key. Asymmetric signatures (EdDSA) mean a leaked verifier key cannot forge a token, and
pinning the algorithm list rejects ``alg: none`` and HMAC tokens signed with the public key.
"""

from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from common.errors import ResponsesDoc, error_response
from common.settings import TokenSettings

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["sub", "email", "exp", "iat", "iss", "aud"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in user a request acts for."""

    id: str
    email: str


class InvalidToken(Exception):
    pass


class TokenVerifier:
    """Checks signature, algorithm, expiry, issuer and audience of an access token."""

    def __init__(self, public_key_pem: bytes, issuer: str, audience: str) -> None:
        self._key = public_key_pem
        self._issuer = issuer
        self._audience = audience

    @classmethod
    def from_settings(cls, settings: TokenSettings) -> "TokenVerifier":
        return cls(
            settings.jwt_public_key_file.read_bytes(), settings.jwt_issuer, settings.jwt_audience
        )

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        sub, email = claims["sub"], claims["email"]
        if not isinstance(sub, str) or not isinstance(email, str):
            raise InvalidToken("sub and email must be strings")
        return Principal(id=sub, email=email)


_bearer = HTTPBearer(auto_error=False, description="An access token from POST /api/signin")

# The 401 every operation that takes ``CurrentUser`` can answer: give it to the operations'
# router as ``APIRouter(responses=REQUIRES_TOKEN)`` (a dependency cannot document its answers).
REQUIRES_TOKEN: ResponsesDoc = {
    401: error_response(
        "No bearer token, or one that is invalid or expired",
        headers={"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    ),
}


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the caller, or 401. The app keeps its verifier in ``app.state``.
    ``async`` so it runs on the event loop (a signature check takes tens of microseconds), not
    in FastAPI's thread pool, where a plain ``def`` would go for every request."""
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="a valid bearer token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return verifier.verify(credentials.credentials)
    except InvalidToken:
        raise unauthorized from None


CurrentUser = Annotated[Principal, Depends(current_principal)]
