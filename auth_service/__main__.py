"""``python -m auth_service`` serves the API; ``python -m auth_service keygen`` makes dev keys."""

import sys

from auth_service.app import create_app
from auth_service.settings import AuthSettings
from auth_service.tokens import ensure_key_pair
from common.service import serve
from common.settings import TokenSettings


def main() -> None:
    settings = AuthSettings()
    if sys.argv[1:] == ["keygen"]:
        public_file = TokenSettings().jwt_public_key_file
        created = ensure_key_pair(settings.jwt_private_key_file, public_file)
        print(f"{'created' if created else 'kept'} {settings.jwt_private_key_file}, {public_file}")
        return
    serve(create_app(settings), settings.host, settings.port)


main()
