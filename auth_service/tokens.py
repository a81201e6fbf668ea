"""Minting access tokens (EdDSA / Ed25519), and the development key pair."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.tokens import ALGORITHM


class TokenIssuer:
    def __init__(self, private_key_pem: bytes, issuer: str, audience: str, ttl: timedelta) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(
                f"the token key must be Ed25519 ({ALGORITHM}), not {type(key).__name__}"
            )
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self.ttl = ttl

    def mint(self, user_id: str, email: str) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": user_id,
            "email": email,
            "iat": now,
            "exp": now + self.ttl,
            "iss": self._issuer,
            "aud": self._audience,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


def ensure_key_pair(private_file: Path, public_file: Path) -> bool:
    """Create an Ed25519 key pair unless ``private_file`` exists. True when one was created."""
    if private_file.exists():
        return False
    private_file.parent.mkdir(parents=True, exist_ok=True)
    public_file.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_file.touch(mode=0o600)
    private_file.write_bytes(private_pem)
    public_file.write_bytes(public_pem)
    return True
