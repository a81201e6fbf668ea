"""Routes of auth_service: sign up and sign in."""

from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, HTTPException, status
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints

from auth_service.passwords import MAX_PASSWORD_BYTES, PasswordHasher
from auth_service.store import EmailTaken, UserStore
from auth_service.tokens import TokenIssuer
from common.service import from_state

router = APIRouter(prefix="/api", tags=["auth"])

INVALID_CREDENTIALS = "invalid email or password"


def _normalise_email(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _check_email(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    return value


def _check_password_bytes(value: str) -> str:
    if not 8 <= len(value.encode()) <= MAX_PASSWORD_BYTES:
        raise ValueError(f"password must be 8 to {MAX_PASSWORD_BYTES} bytes long")
    return value


Email = Annotated[
    str,
    BeforeValidator(_normalise_email),
    StringConstraints(min_length=3, max_length=254),
    AfterValidator(_check_email),
]
NewPassword = Annotated[str, AfterValidator(_check_password_bytes)]


class SignUp(BaseModel):
    email: Email
    password: NewPassword


class SignIn(BaseModel):
    email: Annotated[str, BeforeValidator(_normalise_email), StringConstraints(max_length=254)]
    password: Annotated[str, StringConstraints(max_length=1024)]


class UserOut(BaseModel):
    id: str
    email: str


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int = Field(description="Seconds until the token expires")


Users = Annotated[UserStore, from_state("users", UserStore)]
Passwords = Annotated[PasswordHasher, from_state("passwords", PasswordHasher)]
Tokens = Annotated[TokenIssuer, from_state("tokens", TokenIssuer)]


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={409: {"description": "Email already registered"}},
)
async def sign_up(body: SignUp, users: Users, passwords: Passwords) -> UserOut:
    password_hash = await passwords.hash(body.password)
    try:
        user = await users.create(body.email, password_hash)
    except EmailTaken:
        raise HTTPException(status.HTTP_409_CONFLICT, "email already registered") from None
    return UserOut(id=user.id, email=user.email)


@router.post(
    "/signin",
    response_model=AccessToken,
    responses={401: {"description": "Unknown email or wrong password"}},
)
async def sign_in(body: SignIn, users: Users, passwords: Passwords, tokens: Tokens) -> AccessToken:
    user = await users.by_email(body.email)
    # An unknown email is checked against a dummy hash: both failures take the same time.
    matches = await passwords.verify(body.password, user.password_hash if user else None)
    if user is None or not matches:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, INVALID_CREDENTIALS)
    token = tokens.mint(user.id, user.email)
    return AccessToken(access_token=token, expires_in=int(tokens.ttl.total_seconds()))
