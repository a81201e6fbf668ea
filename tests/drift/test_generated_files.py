"""Committed files that are generated from the code must equal what the code generates now."""

import shutil
import subprocess
from pathlib import Path

import pytest

from scripts.export_openapi import OUT, documents
from services import HTTP_SERVICES

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
REGENERATE = "regenerate them with `make openapi` and commit the result"


@pytest.mark.parametrize("service", [service.name for service in HTTP_SERVICES])
def test_committed_openapi_documents_match_the_services(service):
    assert (OUT / f"{service}.json").read_text() == documents()[service], (
        f"web/openapi/{service}.json is out of date: {REGENERATE}"
    )


def test_web_client_types_match_the_committed_openapi_documents(tmp_path):
    """openapi-typescript, run on a copy of its config and inputs, writes the committed types."""
    shutil.copy(WEB / "redocly.yaml", tmp_path)
    shutil.copytree(WEB / "openapi", tmp_path / "openapi")
    generated = tmp_path / "src" / "api" / "generated"
    generated.mkdir(parents=True)
    subprocess.run(
        [WEB / "node_modules" / ".bin" / "openapi-typescript"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    for fresh in sorted(generated.glob("*.ts")):
        committed = WEB / "src" / "api" / "generated" / fresh.name
        assert committed.read_text() == fresh.read_text(), (
            f"web/src/api/generated/{fresh.name} is out of date: {REGENERATE}"
        )
    assert len(list(generated.glob("*.ts"))) == len(HTTP_SERVICES)
