"""The whole xywy crawl and CMeKG, as the issue asks: counts, and a re-run that changes nothing. Slow."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kb.cli import app
from tests.conftest import shared_data

pytestmark = pytest.mark.slow


def test_xywy_and_cmekg_ingest_and_reingest_changes_nothing(tmp_path):
    xywy = shared_data("xywy-disease-kb")
    url = f"sqlite:///{tmp_path / 'full.sqlite'}"
    runner = CliRunner()

    def ingest(*args):
        result = runner.invoke(app, ["ingest", *args, "--db", url, "--json", "--no-update-index"])
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    assert ingest(str(xywy))["added"] >= 8700
    assert ingest("--source", "cmekg")["changed_entities"] > 10000
    stats = json.loads(runner.invoke(app, ["stats", "--db", url, "--json"]).stdout)
    assert stats["diseases"] >= 8700 and stats["drugs"] >= 10000
    again = ingest(str(xywy), "--source", "cmekg")
    assert again["added"] == again["updated"] == 0 and again["revision"] == stats["kb_revision"]
