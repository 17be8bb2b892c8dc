"""Writing records into the KB: validate, de-duplicate, diff by content hash, upsert in one transaction.

`ingest()` is the one way records enter the KB. It works on whole batches with SQLAlchemy Core
(executemany with RETURNING), because the ORM's per-object flush is ~20x too slow for the 8.8k-disease
xywy crawl or the 27k-entry CMeKG graph. One call is one transaction: either every change of the
batch lands together with its new KB revision and provenance rows, or nothing does.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from kb.authority import authority_column, default_authority, stores_authority
from kb.db import kb_revision, lock_for_writing
from kb.models import Alias, Contribution, Entity, Link, Revision, Section, Source, utcnow
from kb.injection import instruction_like
from kb.names import normalize_name, shorten
from kb.records import LINK_KINDS, Record, RecordError, check_origin, named

CHUNK = 5000  # rows per executemany; keeps SQLite's and psycopg's parameter lists bounded


@dataclass
class SourceBatch:
    """Records read from one file or package, with what provenance needs to know about it."""

    uri: str
    format: str
    origin: str
    content_hash: str
    records: list[Record]
    license_note: str | None = None
    authority: int | None = None  # rank (kb.authority); None: from the origin and format

    def __post_init__(self) -> None:
        check_origin(self.origin, self.uri)
        if self.authority is None:
            self.authority = default_authority(self.origin, self.format)


@dataclass
class IngestReport:
    added: int = 0  # entities new to the KB
    updated: int = 0  # entities whose content from this origin is new or changed
    unchanged: int = 0
    merged: int = 0  # records folded into an earlier record of the same name in the same batch
    rejected: list[str] = field(default_factory=list)  # "where: problem"
    revision_before: int = 0
    revision: int = 0
    dry_run: bool = False
    changed_entity_ids: list[int] = field(default_factory=list)
    # alias-only records for entities the KB does not have: names are attached, never an empty entity made
    skipped: list[str] = field(default_factory=list)
    # sections written that read like instructions to an assistant (kb.injection): stored, and flagged
    flagged: list[str] = field(default_factory=list)
    by_type: dict[str, Counter] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return self.added + self.updated

    def to_json(self) -> dict:
        return {
            "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
            "merged": self.merged, "rejected": len(self.rejected), "rejected_records": self.rejected,
            "revision_before": self.revision_before, "revision": self.revision, "dry_run": self.dry_run,
            "changed_entities": len(self.changed_entity_ids), "skipped": len(self.skipped),
            "skipped_records": self.skipped, "flagged": len(self.flagged), "flagged_sections": self.flagged,
            "by_type": {t: dict(c) for t, c in self.by_type.items()},
        }


class IngestError(ValueError):
    """The batch was rejected; nothing was written. `problems` lists every bad record."""

    def __init__(self, problems: list[str]):
        shown = problems[0] if len(problems) == 1 else f"{problems[0]} (and {len(problems) - 1} more bad records)"
        super().__init__(f"{shown}; nothing was written (use --skip-invalid to ingest the valid records)")
        self.problems = problems


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while building many acyclic objects (records, row dicts).

    Reading and storing the xywy crawl allocates millions of strings, lists and dicts; each of the
    collector's full passes walks all of them though none is ever part of a cycle (reference counting
    frees them). Pausing it makes parse + store ~20% faster (docs/kb.md). Nested uses are fine; the
    collector is re-enabled only if it was enabled on entry.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class _Pending:
    record: Record
    batch: SourceBatch
    content_hash: str
    entity_id: int | None = None
    contribution_id: int | None = None
    status: str = ""  # added | updated | unchanged


def _merge(into: Record, other: Record) -> None:
    """Two records of one name from one origin (crawls repeat pages): keep everything either says."""
    into.aliases = list(dict.fromkeys(into.aliases + [other.name] * (other.name != into.name) + other.aliases))
    seen = {(s.kind, s.text) for s in into.sections}
    into.sections += [s for s in other.sections if (s.kind, s.text) not in seen]
    into.approval_number = into.approval_number or other.approval_number
    into.otc_class = into.otc_class or other.otc_class
    into.validate()


@gc_paused()
def ingest(
    session: Session,
    batches: Iterable[SourceBatch],
    *,
    skip_invalid: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Upsert the batches' records; see the module docstring. Raises IngestError on bad records
    unless `skip_invalid`, in which case they are listed in the report's `rejected`. One ingest
    writes at a time (`kb.db.lock_for_writing`); KbBusyError when another one held the KB too long."""
    batches = list(batches)
    if not dry_run:
        lock_for_writing(session)  # a second ingest waits here for this one's revision
    report = IngestReport(dry_run=dry_run, revision_before=kb_revision(session))
    report.revision = report.revision_before

    # 1. validate and fold duplicates (same type, name and origin) into one record
    pending: dict[tuple[str, str, str], _Pending] = {}
    for batch in batches:
        for record in batch.records:
            try:
                record.validate()
            except RecordError as exc:
                report.rejected.append(str(exc))
                continue
            key = (record.type, record.norm_name, batch.origin)
            if key in pending:
                _merge(pending[key].record, record)
                report.merged += 1
            else:
                pending[key] = _Pending(record, batch, "")
            if progress:
                progress(1)
    if report.rejected and not skip_invalid:
        raise IngestError(report.rejected)
    for p in pending.values():
        p.content_hash = p.record.content_hash()

    # 2. diff against what the KB holds
    existing = {(t, n): i for i, t, n in session.execute(select(Entity.id, Entity.type, Entity.norm_name))}
    origins = {origin for (_, _, origin) in pending}
    # A contribution is unchanged when its content and its source's rank are: the same words from a source
    # ranked otherwise (`--authority`) change what answers, so the entities are re-read by the index.
    rank = authority_column(session)
    contributions = {
        (e, o): (c, h, r)
        for c, e, o, h, r in session.execute(
            select(Contribution.id, Contribution.entity_id, Contribution.origin, Contribution.content_hash, rank)
            .join(Source, Source.id == Contribution.source_id)
            .where(Contribution.origin.in_(origins))
        )
    } if origins else {}
    brought = {key[:2] for key, p in pending.items() if p.record.sections}
    for key, p in list(pending.items()):
        if not p.record.sections and key[:2] not in existing and key[:2] not in brought:
            report.skipped.append(f"{p.batch.uri}: {p.record.type} {shorten(p.record.name)!r} is not in the KB "
                                  "(an alias-only record adds names to an entity, it does not create one)")
            del pending[key]
    for (etype, norm, origin), p in pending.items():
        p.entity_id = existing.get((etype, norm))
        if p.entity_id is None:
            p.status = "added"
        else:
            found = contributions.get((p.entity_id, origin))
            p.contribution_id = found[0] if found else None
            same = found and found[1] == p.content_hash and found[2] == p.batch.authority
            p.status = "unchanged" if same else "updated"
        report.by_type.setdefault(etype, Counter())[p.status] += 1
    counts = Counter(p.status for p in pending.values())
    report.added, report.updated, report.unchanged = counts["added"], counts["updated"], counts["unchanged"]
    changed = [p for p in pending.values() if p.status != "unchanged"]
    report.flagged = [problem for p in changed for problem in _instruction_like_sections(p)]
    if dry_run or not changed:
        if not dry_run:
            _record_sources(session, batches, report.revision)
        return report

    # 3. write: one new revision for the whole batch
    revision = report.revision_before + 1
    report.revision = revision
    session.add(Revision(id=revision, summary={"added": report.added, "updated": report.updated,
                                               "unchanged": report.unchanged, "origins": sorted(origins)}))
    source_ids = _record_sources(session, batches, revision)

    new = [p for p in changed if p.entity_id is None]
    # Two origins in one call may both bring the same new entity: insert it once. Symptoms the changed
    # records name but the KB lacks are created with them, so every disease-symptom link resolves.
    first_of = {(p.record.type, p.record.norm_name): p.record for p in reversed(new)}
    rows = [_entity_row(r.type, r.name, revision, r.approval_number, r.otc_class) for r in first_of.values()]
    rows += [_entity_row("symptom", name, revision) for name in _missing_symptoms(changed, existing)]
    bulk_insert(session, Entity.__table__, ENTITY_COLUMNS, rows)
    if rows:  # read the ids back by the unique (type, norm_name): RETURNING goes row by row on SQLite
        existing.update(((t, n), i) for i, t, n in session.execute(
            select(Entity.id, Entity.type, Entity.norm_name).where(Entity.created_revision == revision)))
        for p in new:
            p.entity_id = existing[(p.record.type, p.record.norm_name[:255])]

    old = [p for p in changed if p.contribution_id is not None]
    old_ids = [p.contribution_id for p in old]
    for chunk in _chunks(old_ids):
        for table in (Alias, Section, Link):
            session.execute(delete(table).where(table.contribution_id.in_(chunk)))
    for chunk in _chunks(old):
        session.connection().execute(
            update(Contribution.__table__).where(Contribution.__table__.c.id == bindparam("cid")),
            [{"cid": p.contribution_id, "content_hash": p.content_hash, "revision": revision,
              "source_id": source_ids[id(p.batch)]} for p in chunk],
        )
    fresh = [p for p in changed if p.contribution_id is None]
    bulk_insert(session, Contribution.__table__, ("entity_id", "origin", "source_id", "content_hash", "revision"),
                [(p.entity_id, p.batch.origin, source_ids[id(p.batch)], p.content_hash, revision) for p in fresh])
    if fresh:
        made = {(e, o): c for c, e, o in session.execute(
            select(Contribution.id, Contribution.entity_id, Contribution.origin).where(Contribution.revision == revision))}
        for p in fresh:
            p.contribution_id = made[(p.entity_id, p.batch.origin)]

    updated_entities = [p for p in changed if p.status == "updated"]
    for chunk in _chunks(updated_entities):
        session.connection().execute(
            update(Entity.__table__).where(Entity.__table__.c.id == bindparam("eid")),
            [{"eid": p.entity_id, "updated_revision": revision,
              "approval_number": p.record.approval_number, "otc_class": p.record.otc_class} for p in chunk],
        )

    # Rows as tuples in the order of the *_COLUMNS below: ~300k section and link rows for the xywy crawl.
    # A link to an entity the KB knows by name (`existing`, now with this ingest's) is resolved here, which
    # spares updating ~100k rows afterwards; resolve_links() does aliases and the links left unresolved.
    alias_rows, section_rows, link_rows = [], [], []
    for p in changed:
        eid, cid = p.entity_id, p.contribution_id
        alias_rows += [(eid, cid, a, normalize_name(a)) for a in p.record.aliases]
        section_rows += [(eid, cid, s.kind, s.title, s.text, _to_json(s.items), pos)
                         for pos, s in enumerate(p.record.sections)]
        link_rows += [(relation, eid, cid, target_type, name, norm, existing.get((target_type, norm)))
                      for relation, target_type, name, norm in _link_targets(p.record)]
    bulk_insert(session, Alias.__table__, ALIAS_COLUMNS, alias_rows)
    bulk_insert(session, Section.__table__, SECTION_COLUMNS, section_rows)
    bulk_insert(session, Link.__table__, LINK_COLUMNS, link_rows)
    resolve_links(session)
    report.changed_entity_ids = sorted(p.entity_id for p in changed)
    return report


ENTITY_COLUMNS = ("type", "name", "norm_name", "approval_number", "otc_class", "created_revision", "updated_revision")
ALIAS_COLUMNS = ("entity_id", "contribution_id", "alias", "norm_alias")
SECTION_COLUMNS = ("entity_id", "contribution_id", "kind", "title", "text", "items", "position")
LINK_COLUMNS = ("relation", "from_id", "contribution_id", "target_type", "target_name", "target_norm", "target_id")


def _entity_row(etype: str, name: str, revision: int, approval_number: str | None = None,
                otc_class: str | None = None) -> tuple:
    """A row for ENTITY_COLUMNS."""
    return (etype, name[:255], normalize_name(name)[:255], approval_number, otc_class, revision, revision)


def _instruction_like_sections(p: _Pending) -> Iterator[str]:
    """A warning for each section of the record that reads like an instruction to an assistant."""
    record = p.record
    where = record.where or p.batch.uri
    if shorten(record.name) not in where:
        where = named(where, record.name)
    for s in record.sections:
        if words := instruction_like(s.text):
            yield (f"{where}: section {shorten(s.kind, 24)!r} reads like an instruction to an assistant "
                   f"({shorten(words)!r}); stored, marked in `kb show`, left out of answers")


def _link_targets(record: Record) -> Iterator[tuple[str, str, str, str]]:
    """(relation, target type, target name as written, its normalised name) for each relation the
    record states in its list sections (LINK_KINDS)."""
    for s in record.sections:
        if s.kind in LINK_KINDS:
            relation, target_type = LINK_KINDS[s.kind]
            for item in s.items:
                norm = normalize_name(item)
                if norm and len(item) <= 255:
                    yield relation, target_type, item, norm


def _missing_symptoms(changed: list[_Pending], existing: dict) -> list[str]:
    """Names of the symptoms the changed records link to that the KB does not hold, one per normalised
    name. Symptoms are named by diseases only; they have no record of their own."""
    missing = {}
    for p in changed:
        for _, target_type, name, norm in _link_targets(p.record):
            if target_type == "symptom" and ("symptom", norm) not in existing:
                missing.setdefault(norm, name)
    return list(missing.values())


def resolve_links(session: Session) -> int:
    """Point unresolved links at the entity of that type whose name, or else alias, matches.

    UPDATE ... FROM a join (not a correlated subquery per row): PostgreSQL takes seconds otherwise.
    """
    opts = {"synchronize_session": False}
    n = session.execute(
        update(Link)
        .where(Link.target_id.is_(None), Entity.type == Link.target_type, Entity.norm_name == Link.target_norm)
        .values(target_id=Entity.id),
        execution_options=opts,
    ).rowcount
    by_alias = (
        select(Entity.type, Alias.norm_alias, func.min(Alias.entity_id).label("entity_id"))
        .join(Entity, Entity.id == Alias.entity_id)
        .group_by(Entity.type, Alias.norm_alias)
        .subquery()
    )
    n += session.execute(
        update(Link)
        .where(Link.target_id.is_(None), by_alias.c.type == Link.target_type, by_alias.c.norm_alias == Link.target_norm)
        .values(target_id=by_alias.c.entity_id),
        execution_options=opts,
    ).rowcount
    return n


def _record_sources(session: Session, batches: list[SourceBatch], revision: int) -> dict[int, int]:
    """One provenance row per (uri, content hash); a re-ingest of the same bytes reuses it."""
    ids = {}
    ranked = stores_authority(session)  # an ingest into a KB of an older schema (tests do) stores no rank
    for batch in batches:
        found = session.scalar(select(Source).where(Source.uri == batch.uri, Source.content_hash == batch.content_hash))
        if found is None:
            found = Source(uri=batch.uri, format=batch.format, origin=batch.origin, content_hash=batch.content_hash,
                           license_note=batch.license_note, revision=revision, ingested_at=utcnow(),
                           **({"authority": batch.authority} if ranked else {}))
            session.add(found)
            session.flush()
        elif ranked and found.authority != batch.authority:  # the same bytes, ranked anew (`kb ingest --authority`)
            found.authority = batch.authority
            session.flush()
        ids[id(batch)] = found.id
    return ids


_json_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\u2028\u2029]')


def _to_json(items: list[str]) -> str:
    """A list of strings as JSON; joins directly when nothing needs escaping (3x faster, 180k calls)."""
    if not items:
        return "[]"
    if _NEEDS_ESCAPE.search("".join(items)):  # not the '","'-joined text: its own quotes would match
        return _json_encode(items)
    joined = '","'.join(items)
    return f'["{joined}"]'


def bulk_insert(session: Session, table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT many rows (tuples in `columns` order) through the driver, skipping SQLAlchemy's per-row
    bind processing.

    Values must already be in driver form (JSON columns as JSON text). This is ~5x faster than
    session.execute(insert(table), dicts) for the ~300k section/link rows of one xywy ingest. SQLite
    gets an executemany; PostgreSQL a COPY (~10x faster than its executemany), in the same transaction.
    """
    if not rows:
        return
    if len(rows[0]) != len(columns):
        raise ValueError(f"{table.name}: rows have {len(rows[0])} values for {len(columns)} columns")
    conn = session.connection()
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with conn.connection.driver_connection.cursor() as cur:
            with cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    compiled = insert(table).inline().compile(dialect=conn.dialect, column_keys=list(columns))
    if compiled.positiontup != list(columns):  # a driver with named parameters: SQLAlchemy's own path
        for chunk in _chunks(rows):
            conn.execute(insert(table), [dict(zip(columns, row)) for row in chunk])
        return
    for chunk in _chunks(rows):
        conn.exec_driver_sql(str(compiled), chunk)


def _chunks(rows: list, size: int = CHUNK):
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
