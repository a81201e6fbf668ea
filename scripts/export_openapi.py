"""Write each service's OpenAPI document to web/openapi/, for the web client's generated types.

    uv run python -m scripts.export_openapi

The apps of the declared HTTP services (services.py) are built with their default settings, not
started: no database or broker is needed.
"""

import json
from pathlib import Path

from services import HTTP_SERVICES

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "web" / "openapi"


def documents() -> dict[str, str]:
    """Each service's OpenAPI document as it is written to ``web/openapi/<service>.json``."""
    return {
        s.name: json.dumps(s.create_app().openapi(), indent=2, sort_keys=True) + "\n"
        for s in HTTP_SERVICES
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in documents().items():
        path = OUT / f"{name}.json"
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
