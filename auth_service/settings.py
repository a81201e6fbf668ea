from datetime import timedelta
from pathlib import Path

from pydantic import Field

from common.settings import Seconds, ServiceSettings, TokenSettings


class AuthSettings(ServiceSettings, TokenSettings):
    port: int = 8001
    mongo_db: str = "auth"
    # Only this service holds the private key; the public one (JWT_PUBLIC_KEY_FILE) is shared.
    jwt_private_key_file: Path = Path(".data/keys/jwt_private.pem")
    # Long enough to outlast a request and the clock skew; at most a day, as there is no revoking.
    access_token_ttl: Seconds = Field(
        default=timedelta(hours=1), ge=timedelta(minutes=1), le=timedelta(hours=24)
    )
    # 12 rounds is about 0.2 s a hash on one core; tests lower it to keep the suite fast.
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    # Failed sign-ins per account (whatever the client address), shared by every replica: a
    # burst, then one more every interval. Past them the account's sign-in is a 429, the right
    # password too, for at most one interval at a time: an attacker slows the owner down, never
    # locks them out for longer.
    signin_failure_limit_burst: int = Field(default=5, ge=1, le=1_000_000)
    signin_failure_limit_interval: Seconds = Field(
        default=timedelta(seconds=30), ge=timedelta(milliseconds=1), le=timedelta(hours=1)
    )
