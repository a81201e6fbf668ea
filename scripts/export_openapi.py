"""Write each service's OpenAPI document to web/openapi/, for the web client's generated types.

    uv run python scripts/export_openapi.py

The apps are built, not started: no database or broker is needed.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auth_service.app import create_app as auth_app  # noqa: E402
from auth_service.settings import AuthSettings  # noqa: E402
from notification_service.app import create_app as notification_app  # noqa: E402
from notification_service.settings import NotificationSettings  # noqa: E402
from post_service.app import create_app as post_app  # noqa: E402
from post_service.settings import PostSettings  # noqa: E402

OUT = ROOT / "web" / "openapi"


def documents() -> dict[str, str]:
    """Each service's OpenAPI document as it is written to ``web/openapi/<service>.json``."""
    apps = {
        "auth": auth_app(AuthSettings()),
        "post": post_app(PostSettings()),
        "notification": notification_app(NotificationSettings()),
    }
    return {
        name: json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"
        for name, app in apps.items()
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in documents().items():
        path = OUT / f"{name}.json"
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
