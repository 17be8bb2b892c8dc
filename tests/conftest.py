"""Shared fixtures: KB database URLs for SQLite and PostgreSQL, and the shared data folder.

The tests never touch the user's data: a command a test runs without --db / --index (and every answer it logs)
goes to a folder of the test run's own (TEST_VAR, removed at the end), never to ./var or the user's $KB_DB_URL,
$YIJU_INDEX or $YIJU_LOG_DB."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
TEST_VAR = Path(tempfile.mkdtemp(prefix="yiju-tests-"))
atexit.register(shutil.rmtree, TEST_VAR, ignore_errors=True)
os.environ["KB_DB_URL"] = f"sqlite:///{TEST_VAR / 'kb.sqlite'}"
os.environ["YIJU_INDEX"] = str(TEST_VAR / "index")
os.environ.pop("YIJU_LOG_DB", None)


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason when a clone has no such folder."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (a user's clone has no ../shared/data; CI always has it)")
    return path


def _pg_admin_url() -> str | None:
    url = os.environ.get("KB_TEST_PG_URL", PG_DEFAULT)
    try:
        import psycopg

        conninfo = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, connect_timeout=3):
            return url
    except Exception:
        return None


_PG = _pg_admin_url()


def _fresh_pg_database(template: str | None = None) -> tuple[str, callable]:
    """A new PostgreSQL database (a copy of database `template` when given) and the function that drops it."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(_PG)
    name = f"yiju_test_{uuid.uuid4().hex[:10]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))

    def drop() -> None:
        from kb.db import dispose_engines

        dispose_engines()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db_url(request, tmp_path):
    """An empty KB database URL, once on SQLite and once on PostgreSQL (skipped when no server answers)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kb.sqlite'}"
        from kb.db import dispose_engines

        dispose_engines()
        return
    if _PG is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL does not answer at KB_TEST_PG_URL; CI must test the KB on it")
        pytest.skip("no PostgreSQL server answers at KB_TEST_PG_URL / 127.0.0.1:5432")
    url, drop = _fresh_pg_database()
    yield url
    drop()


@pytest.fixture
def sqlite_url(tmp_path):
    yield f"sqlite:///{tmp_path / 'kb.sqlite'}"
    from kb.db import dispose_engines

    dispose_engines()
