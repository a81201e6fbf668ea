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
