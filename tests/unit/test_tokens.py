import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.tokens import InvalidToken, TokenVerifier
from tests.conftest import AUDIENCE, ISSUER


@pytest.fixture
def verifier(keys) -> TokenVerifier:
    return TokenVerifier(keys.public.read_bytes(), ISSUER, AUDIENCE)


def _claims(**over):
    now = datetime.now(UTC)
    claims = {
        "sub": "u1",
        "email": "a@example.com",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(keys, **over) -> str:
    key = serialization.load_pem_private_key(keys.private.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)  # EdDSA: the key pair the services use
    return jwt.encode(_claims(**over), key, algorithm="EdDSA")


def test_minted_token_verifies_to_its_user(issuer, verifier):
    principal = verifier.verify(issuer.mint("user-1", "a@example.com"))
    assert (principal.id, principal.email) == ("user-1", "a@example.com")


@pytest.mark.parametrize(
    "over",
    [
        {"exp": datetime.now(UTC) - timedelta(seconds=5)},
        {"aud": "someone-else"},
        {"iss": "evil"},
        {"email": None},
        {"sub": None},
        {"exp": None},
    ],
)
def test_tokens_with_bad_claims_are_rejected(keys, verifier, over):
    with pytest.raises(InvalidToken):
        verifier.verify(_sign(keys, **over))


def test_alg_none_is_rejected(verifier):
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = base64.urlsafe_b64encode(json.dumps(_claims(), default=str).encode())
    token = f"{header.decode().rstrip('=')}.{body.decode().rstrip('=')}."
    with pytest.raises(InvalidToken):
        verifier.verify(token)


def test_hmac_token_signed_with_the_public_key_is_rejected(keys, verifier):
    # The classic key-confusion forgery: HS256 with the (public) verification key as secret.
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    claims = _claims()
    claims = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    mac = hmac.new(keys.public.read_bytes(), f"{header}.{body}".encode(), hashlib.sha256)
    sig = base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
    with pytest.raises(InvalidToken):
        verifier.verify(f"{header}.{body}.{sig}")


def test_tampered_token_is_rejected(issuer, verifier):
    header, body, sig = issuer.mint("user-1", "a@example.com").split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(InvalidToken):
        verifier.verify(f"{header}.{forged}.{sig}")


def test_garbage_is_rejected(verifier):
    with pytest.raises(InvalidToken):
        verifier.verify("not.a.token")
