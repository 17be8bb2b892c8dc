"""kb/settings.py reads the environment in one place; kb/options.py's options keep flag > env > default."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kb.db import resolve_url
from kb.settings import DEFAULT_INDEX_DIR, env_name, settings


def test_settings_read_the_environment_when_asked_and_an_empty_variable_is_unset(monkeypatch):
    monkeypatch.setenv("KB_DB_URL", "sqlite:////tmp/other.sqlite")
    monkeypatch.setenv("YIJU_INDEX", "")
    monkeypatch.setenv("yiju_tuned_model", "lower/case")  # names are case-sensitive, as os.environ is
    assert settings().db_url == "sqlite:////tmp/other.sqlite" == resolve_url(None)
    assert resolve_url("sqlite:///given.sqlite") == "sqlite:///given.sqlite"  # the flag beats the variable
    assert settings().index == DEFAULT_INDEX_DIR and settings().tuned_model == "var/models/tuned"
    monkeypatch.delenv("KB_DB_URL")
    assert resolve_url(None) == "sqlite:///var/kb.sqlite"
    assert env_name("allowed_hosts") == "YIJU_ALLOWED_HOSTS"


@pytest.mark.parametrize("flag, env, expected", [("flag-dir", "env-dir", "flag-dir"), (None, "env-dir", "env-dir"),
                                                 (None, None, DEFAULT_INDEX_DIR)])
def test_the_index_option_is_flag_then_env_then_default(monkeypatch, tmp_path, flag, env, expected):
    from retriever.cli import app

    monkeypatch.chdir(tmp_path)  # the default var/index is relative: never the user's own
    if env is None:
        monkeypatch.delenv("YIJU_INDEX", raising=False)
    else:
        monkeypatch.setenv("YIJU_INDEX", env)
    args = ["stats", "--db", "sqlite:///nowhere.sqlite"] + (["--index", flag] if flag else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and expected in result.output  # "no index at <dir>" names the folder it looked in
