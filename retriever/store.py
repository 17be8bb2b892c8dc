"""The index on disk: a manifest pointing at one complete generation, plus the embedding cache.

    var/index/
      manifest.json                   encoder, dimension, passage count, KB revision and KB id, build time, generation
      gen-000003/                     one complete, immutable index
        passages.sqlite               passages (text, metadata, BM25 tokens), entity names, contributions
        dense.faiss                   FAISS index keyed by passage row
        bm25/ + bm25_rows.npy         bm25s index and its document -> passage row map
        jieba.sqlite                  jieba's dictionary with the KB names added (read word by word)
      build-r12-use-multilingual-v3.partial/   a build in progress (resumable)
      embeddings/use-multilingual-v3.sqlite    content-hash cache of field embeddings
      jieba.cache                     jieba's parsed dictionary (made by the first build, read by later ones)

A build or an update writes a whole new generation next to the current one and then replaces
manifest.json in one rename, so a crash at any point leaves the previous index intact and readers
never see half of a change. Old generations are removed after the switch.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from kb.settings import settings
from retriever.hits import Passage
from retriever.passages import EntityName

FORMAT = 1
MANIFEST = "manifest.json"


def index_dir_setting() -> str:
    """Where every command looks for the index unless told otherwise (--index): $YIJU_INDEX, else var/index
    (relative to the working directory; kb/settings.py)."""
    return settings().index

SCHEMA = """
CREATE TABLE IF NOT EXISTS passages (
    row INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, entity_id INTEGER NOT NULL, entity_type TEXT NOT NULL,
    entity_name TEXT NOT NULL, section TEXT NOT NULL, origin TEXT NOT NULL, chunk INTEGER NOT NULL,
    text TEXT NOT NULL, source TEXT NOT NULL, kb_revision INTEGER NOT NULL, content_hash TEXT NOT NULL,
    items TEXT NOT NULL, tokens BLOB NOT NULL, contribution_id INTEGER NOT NULL, authority INTEGER NOT NULL DEFAULT 0,
    differs TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS passages_entity ON passages (entity_id, section, chunk);
CREATE TABLE IF NOT EXISTS entities (entity_id INTEGER PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL,
                                     aliases TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contributions (id INTEGER PRIMARY KEY, entity_id INTEGER NOT NULL, revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

PASSAGE_COLUMNS = "row, id, entity_id, entity_type, entity_name, section, origin, chunk, text, source, " \
                  "kb_revision, content_hash, items, authority, differs"
# Columns a generation written by an older yiju lacks: read as their default, added by an update of it.
LATER_COLUMNS = {"authority": ("INTEGER NOT NULL DEFAULT 0", "0"), "differs": ("TEXT NOT NULL DEFAULT ''", "''")}


def pack_tokens(tokens: list[str]) -> bytes:
    """BM25 tokens as stored: space-joined and zlib-compressed (a third of the plain size; only an
    update's BM25 rebuild reads them back)."""
    return zlib.compress(" ".join(tokens).encode("utf-8"), 1)


def unpack_tokens(blob: bytes) -> list[str]:
    return zlib.decompress(blob).decode("utf-8").split()


def origin_of(passage_id: str) -> str:
    """The origin part of "e12:适应症:label:0"."""
    return passage_id.rsplit(":", 2)[-2]


SQLITE_MAX_PARAMS = 900  # bound parameters per statement; older SQLite builds stop at 999


def select_in(db: sqlite3.Connection, sql: str, values: list) -> Iterator[tuple]:
    """The rows of `sql` for every value, where `sql` has one "IN ({})" for the values: run in chunks
    that stay under SQLite's bound-parameter limit."""
    for i in range(0, len(values), SQLITE_MAX_PARAMS):
        chunk = values[i : i + SQLITE_MAX_PARAMS]
        yield from db.execute(sql.format(",".join("?" * len(chunk))), chunk)


def row_to_passage(r: tuple) -> Passage:
    return Passage(id=r[1], entity_id=r[2], entity_type=r[3], entity_name=r[4], section=r[5], chunk=r[7],
                   text=r[8], source=r[9], kb_revision=r[10], content_hash=r[11], items=tuple(json.loads(r[12])),
                   authority=r[13], differs=tuple(o for o in r[14].split(",") if o))


class PassageStore:
    """passages.sqlite of one generation. Thread-safe for reads (one connection, serialised)."""

    def __init__(self, path: Path, readonly: bool = False):
        self.path = Path(path)
        uri = f"file:{self.path}?mode=ro" if readonly else f"file:{self.path}"
        self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        if not readonly:
            self.db.executescript(SCHEMA)
            self.db.execute("PRAGMA synchronous=OFF")  # a generation is only published once complete
        # a generation written before sources had ranks (or before differences were kept) lacks those columns:
        # they read as their default (0: unranked; no difference), and an update of it adds them
        have = {c[1] for c in self.db.execute("PRAGMA table_info(passages)")}
        self.columns = PASSAGE_COLUMNS
        for column, (declared, default) in LATER_COLUMNS.items():
            if column in have:
                continue
            if readonly:
                self.columns = self.columns.replace(column, f"{default} AS {column}")
            else:
                self.db.execute(f"ALTER TABLE passages ADD COLUMN {column} {declared}")

    def close(self) -> None:
        self.db.close()

    # --- writing (build and update) ---
    def add_passages(self, passages: Iterable[tuple[Passage, int, bytes]], start_row: int) -> int:
        """Insert (passage, contribution id, packed tokens) rows from `start_row` on; returns the next free row."""
        row = start_row
        batch = []
        for p, contribution_id, tokens in passages:
            batch.append((row, p.id, p.entity_id, p.entity_type, p.entity_name, p.section, origin_of(p.id), p.chunk,
                          p.text, p.source, p.kb_revision, p.content_hash, json.dumps(list(p.items), ensure_ascii=False),
                          tokens, contribution_id, p.authority, ",".join(p.differs)))
            row += 1
            if len(batch) >= 5000:
                self._insert(batch)
                batch = []
        self._insert(batch)
        return row

    def _insert(self, batch: list[tuple]) -> None:
        if batch:
            self.db.executemany(f"INSERT INTO passages VALUES ({','.join('?' * 17)})", batch)

    def set_entities(self, names: Iterable[EntityName]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO entities VALUES (?, ?, ?, ?)",
            [(e.entity_id, e.entity_type, e.name, json.dumps(list(e.aliases), ensure_ascii=False)) for e in names],
        )

    def set_contributions(self, rows: Iterable[tuple[int, int, int]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO contributions VALUES (?, ?, ?)", list(rows))

    def set_meta(self, **values) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                            [(k, json.dumps(v)) for k, v in values.items()])
        self.db.commit()

    def meta(self, key: str, default=None):
        found = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(found[0]) if found else default

    def commit(self) -> None:
        self.db.commit()

    # --- reading ---
    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM passages").fetchone()[0]

    def next_row(self) -> int:
        return (self.db.execute("SELECT max(row) FROM passages").fetchone()[0] or 0) + 1

    def by_rows(self, rows: list[int]) -> dict[int, Passage]:
        return {r[0]: row_to_passage(r)
                for r in select_in(self.db, f"SELECT {self.columns} FROM passages WHERE row IN ({{}})", rows)}

    def by_id(self, passage_id: str) -> Passage | None:
        r = self.db.execute(f"SELECT {self.columns} FROM passages WHERE id=?", (passage_id,)).fetchone()
        return row_to_passage(r) if r else None

    def rows_of_ids(self, ids: list[str]) -> dict[str, int]:
        return dict(select_in(self.db, "SELECT id, row FROM passages WHERE id IN ({})", ids))

    def of_entities(self, entity_ids: list[int], section: str | None = None) -> list[tuple[int, Passage]]:
        out = []
        for i in range(0, len(entity_ids), 900):
            chunk = entity_ids[i : i + 900]
            q = f"SELECT {self.columns} FROM passages WHERE entity_id IN ({','.join('?' * len(chunk))})"
            args: list = list(chunk)
            if section is not None:
                q += " AND section=?"
                args.append(section)
            out += [(r[0], row_to_passage(r)) for r in self.db.execute(q + " ORDER BY row", args)]
        return out

    def row_meta(self, rows: list[int]) -> dict[int, tuple[int, str]]:
        """row -> (entity id, section): what fusion needs to apply boosts, without reading texts."""
        out = {}
        for i in range(0, len(rows), 900):
            chunk = rows[i : i + 900]
            q = f"SELECT row, entity_id, section FROM passages WHERE row IN ({','.join('?' * len(chunk))})"
            out.update({r: (e, s) for r, e, s in self.db.execute(q, chunk)})
        return out

    def iter_rows(self, columns: str, where: str = "", args: tuple = ()) -> Iterator[tuple]:
        yield from self.db.execute(f"SELECT {columns} FROM passages {where} ORDER BY row", args)

    def entity_names(self) -> list[EntityName]:
        return [EntityName(eid, t, n, tuple(json.loads(a)))
                for eid, t, n, a in self.db.execute("SELECT entity_id, type, name, aliases FROM entities")]

    def contributions(self) -> dict[int, tuple[int, int]]:
        rows = self.db.execute("SELECT id, entity_id, revision FROM contributions")
        return {cid: (eid, rev) for cid, eid, rev in rows}


# --- the index folder ---

def index_folder(index_dir: str | Path, create: bool = False) -> Path:
    """`index_dir` as a Path, made (with its parents) when `create`; RetrieverError, one line, when it or
    a folder above it is a file, or it cannot be made."""
    index_dir = Path(index_dir)
    blocker = next((p for p in (index_dir, *index_dir.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise RetrieverError(f"index folder {index_dir}: {blocker} is a file, not a folder; "
                             "give a folder for the index (--index DIR)")
    if create:
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RetrieverError(f"cannot make the index folder {index_dir}: {exc.strerror}") from None
    return index_dir


def read_manifest(index_dir: Path) -> dict | None:
    path = index_folder(index_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RetrieverError(f"{path}: unreadable manifest ({exc}); rebuild with `retriever build`") from None


def write_manifest(index_dir: Path, manifest: dict) -> None:
    """Atomic: write a temporary file beside it, then rename over it."""
    index_dir = Path(index_dir)
    fd, tmp = tempfile.mkstemp(dir=index_dir, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the manifest is for everyone who reads the index
    os.replace(tmp, index_dir / MANIFEST)


def next_generation(index_dir: Path) -> str:
    taken = [int(m.group(1)) for p in Path(index_dir).glob("gen-*") if (m := re.fullmatch(r"gen-(\d+)", p.name))]
    return f"gen-{max(taken, default=0) + 1:06d}"


def remove_old_generations(index_dir: Path, keep: str) -> None:
    for p in Path(index_dir).glob("gen-*"):
        if p.name != keep and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


class RetrieverError(RuntimeError):
    """The index is missing, unreadable, busy or does not match its KB; the message says what to do."""


class StaleIndexError(RetrieverError):
    """The KB has moved on since the index was built (raised when on_stale="fail")."""


class ForeignIndexError(StaleIndexError):
    """The index was built from another KB (another KB id), whatever the revisions say."""


def foreign_index(manifest: dict, kb_id: str | None, index_dir: Path, kb_url: str) -> str | None:
    """Why the index whose manifest this is was not built from the KB with id `kb_id` at `kb_url`
    (None when it was). The manifest records the KB id at build (`kb.db.kb_id`)."""
    built_from = manifest.get("kb_id")
    if kb_id is None:
        return f"the KB at {kb_url} has no KB id (its schema predates KB ids): run `kb init` to upgrade it"
    if built_from is None:
        return (f"index {index_dir} does not say which KB it was built from (it predates KB ids): "
                "run `retriever update` (or `retriever build`)")
    if built_from != kb_id:
        return (f"index {index_dir} was built from another KB (KB id {built_from}), not from the KB at {kb_url} "
                f"(KB id {kb_id}): run `retriever build` for this KB")
    return None
