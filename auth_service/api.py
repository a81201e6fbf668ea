"""Routes of auth_service: sign up and sign in."""

from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, HTTPException, status
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from auth_service import use_cases
from auth_service.passwords import MAX_PASSWORD_BYTES, PasswordHasher
from auth_service.store import EmailTaken, UserStore
from auth_service.tokens import TokenIssuer
from common.errors import BODY_ERRORS, DATABASE_UNAVAILABLE, ResponsesDoc, error_response
from common.limits import RateLimit, too_many
from common.state import from_state

# The gateway's brake on the two calls that take a password (AUTH_RATE_LIMIT per address).
RATE_LIMITED: ResponsesDoc = {
    429: error_response("Too many attempts from this address (the gateway's limit); try again")
}

router = APIRouter(
    prefix="/api",
    tags=["auth"],
    responses={**BODY_ERRORS, **DATABASE_UNAVAILABLE, **RATE_LIMITED},
)

INVALID_CREDENTIALS = "invalid email or password"


def _normalise_email(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _check_email(value: str) -> str:
    """email-validator's normalized form (the local part in NFC, the domain mapped by IDNA's
    UTS-46): one address, in whichever Unicode spelling, is one account."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None


def _email_if_valid(value: str) -> str:
    """Sign-in's email, normalised as sign-up's; an invalid one is kept: it matches no account."""
    try:
        return _check_email(value)
    except ValueError:
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
    Field(json_schema_extra={"format": "email"}),
]
# The limit is in bytes (bcrypt's), which JSON Schema cannot state: it counts characters. The
# document's pattern admits the passwords that are 8 to 72 bytes of UTF-8 whatever their
# characters, so whatever it admits is taken; a mix past these (70 of ASCII and an "é") is
# taken too, which the document says in words only.
SURELY_8_TO_72_BYTES = (
    "^(?:"
    r"[\x00-\x7F]{8,72}"  # ASCII: 1 byte each
    r"|[\x00-\u07FF]{8,36}"  # at most 2 bytes each
    r"|[\x00-\uFFFF]{8,24}"  # the BMP: at most 3
    r"|[\s\S]{8,18}"  # any character: at most 4
    ")$"
)
NewPassword = Annotated[
    str,
    AfterValidator(_check_password_bytes),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 8,
            "maxLength": MAX_PASSWORD_BYTES,
            "pattern": SURELY_8_TO_72_BYTES,
            "description": f"8 to {MAX_PASSWORD_BYTES} bytes of UTF-8. The pattern admits "
            "8 to 72 characters of ASCII, to 36 below U+0800, to 24 in the BMP, to 18 of any; "
            "a longer mix within 72 bytes is taken too.",
        }
    ),
]


class SignUp(BaseModel):
    email: Email
    password: NewPassword


class SignIn(BaseModel):
    email: Annotated[
        str,
        BeforeValidator(_normalise_email),
        StringConstraints(max_length=254),
        AfterValidator(_email_if_valid),
    ]
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
SignInFailures = Annotated[RateLimit, from_state("sign_in_failures", RateLimit)]


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={409: error_response("Email already registered")},
)
async def sign_up(body: SignUp, users: Users, passwords: Passwords) -> UserOut:
    try:
        user = await use_cases.sign_up(body.email, body.password, users=users, passwords=passwords)
    except EmailTaken:
        raise HTTPException(status.HTTP_409_CONFLICT, "email already registered") from None
    return UserOut(id=user.id, email=user.email)


@router.post(
    "/signin",
    response_model=AccessToken,
    responses={
        401: error_response("Unknown email or wrong password"),
        **too_many(
            "Too many attempts from this address (the gateway's limit), or too many failed "
            "sign-ins for this account (SIGNIN_FAILURE_LIMIT_BURST, then one per "
            "SIGNIN_FAILURE_LIMIT_INTERVAL, whatever the address); try again"
        ),
    },
)
async def sign_in(
    body: SignIn, users: Users, passwords: Passwords, tokens: Tokens, failures: SignInFailures
) -> AccessToken:
    token = await use_cases.sign_in(
        body.email,
        body.password,
        users=users,
        passwords=passwords,
        tokens=tokens,
        failures=failures,
    )
    if token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, INVALID_CREDENTIALS)
    return AccessToken(access_token=token, expires_in=int(tokens.ttl.total_seconds()))
