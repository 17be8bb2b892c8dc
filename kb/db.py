"""Where the KB lives: database URL, engine, sessions, migrations and the KB revision."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, delete, event, false, func, inspect, select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from kb.models import KbIdentity, Revision

from kb.settings import DEFAULT_DB_URL, settings
BUSY_TIMEOUT_MS = 10_000  # SQLite: how long a statement waits for another connection's lock
WRITE_WAIT_S = 120.0  # how long a writer (`kb ingest`) waits for another one to finish
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class DatabaseError(RuntimeError):
    """The database cannot be reached or is not usable; the message says which URL and what to do."""


class KbBusyError(DatabaseError):
    """Another writer (a second `kb ingest`) held the KB for longer than this one would wait."""


def resolve_url(url: str | None = None) -> str:
    """--db beats KB_DB_URL beats the default SQLite file under ./var/."""
    url = url or settings().db_url or DEFAULT_DB_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: bulk ingests update several indexes at once
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


_engines: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL; SQLite files get their folder created; unreachable servers fail fast."""
    url = resolve_url(url)
    if url in _engines:
        return _engines[url]
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True, connect_args=_connect_args(url))
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, ImportError, ValueError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DatabaseError(f"cannot open database {redact(url)}: {reason}") from exc
    _engines[url] = engine
    return engine


def _connect_args(url: str) -> dict:
    return {"connect_timeout": 5} if url.startswith("postgresql") else {}


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str | None = None, target: str = "head") -> str:
    """Bring the schema to `target` (default head) and return the revision id now in force."""
    from alembic import command

    engine = get_engine(url)
    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
    return schema_version(engine)


def schema_version(engine: Engine) -> str | None:
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def require_schema(engine: Engine) -> None:
    if schema_version(engine) is None:
        raise DatabaseError(f"{redact(engine.url.render_as_string(hide_password=False))} has no KB schema: run `kb init` first")


@contextmanager
def session_scope(url: str | None = None, *, migrate_first: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error, so nothing is half-written."""
    if migrate_first:
        migrate(url)
    engine = get_engine(url)
    require_schema(engine)
    session = sessionmaker(engine, expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def kb_revision(session: Session) -> int:
    """The single integer that grows with every ingest that changed anything (0 for an empty KB)."""
    return session.scalar(select(func.max(Revision.id))) or 0


def kb_id(session: Session) -> str | None:
    """The KB's own id (a UUID string, see `kb.models.KbIdentity`), or None for a KB whose schema
    predates KB ids (`kb init` upgrades it and gives it one)."""
    if not inspect(session.connection()).has_table(KbIdentity.__tablename__):
        return None
    return session.scalar(select(KbIdentity.id))


def lock_for_writing(session: Session, wait_s: float | None = None) -> None:
    """Make the session's transaction the KB's only writer until it ends.

    A second `kb ingest` waits here (up to `wait_s`, default WRITE_WAIT_S) for the first to commit and
    then reads the revision the first one made, instead of claiming the same revision number. Call it
    before the transaction reads anything it will write from. PostgreSQL: a lock on the revisions table
    that only writers take (reads go on); SQLite: its one write lock, taken by a write that changes
    nothing. Works on every schema version.
    """
    wait_ms = int((WRITE_WAIT_S if wait_s is None else wait_s) * 1000)
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    try:
        if postgres:
            session.execute(text(f"SET LOCAL lock_timeout = {wait_ms}"))
            session.execute(text(f"LOCK TABLE {Revision.__tablename__} IN SHARE ROW EXCLUSIVE MODE"))
        else:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {wait_ms}")
            session.execute(delete(Revision).where(false()))
    except OperationalError as exc:
        orig = exc.orig
        if getattr(orig, "sqlstate", None) == "55P03" or getattr(orig, "sqlite_errorname", None) == "SQLITE_BUSY":
            raise KbBusyError(f"another `kb ingest` is writing to {redact(str(conn.engine.url))} and did not finish "
                              f"within {wait_ms / 1000:g} s; try again when it is done") from None
        raise
    finally:
        if not postgres:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


__all__ = [
    "DatabaseError", "KbBusyError", "lock_for_writing", "DEFAULT_DB_URL", "resolve_url", "get_engine", "migrate", "session_scope",
    "kb_revision", "kb_id", "require_schema", "dispose_engines", "OperationalError",
]
