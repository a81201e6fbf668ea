from datetime import timedelta
from pathlib import Path

from pydantic import Field

from common.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    port: int = 8001
    mongo_db: str = "auth"
    jwt_private_key_file: Path = Path(".data/keys/jwt_private.pem")
    jwt_issuer: str = "soflite-auth"
    jwt_audience: str = "soflite"
    access_token_ttl: timedelta = timedelta(hours=1)
    # 12 rounds is about 0.2 s a hash on one core; tests lower it to keep the suite fast.
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
