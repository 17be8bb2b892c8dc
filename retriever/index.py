"""Build and update the retrieval index (searching it is `retriever.search.Retriever`).

    manifest = build_index("sqlite:///var/kb.sqlite", "var/index")      # full build (resumable)
    report = update_index("sqlite:///var/kb.sqlite", "var/index")       # only what changed in the KB

One writer at a time per index folder (a file lock); a build writes a new generation beside the
current one and switches the manifest in one rename. Layout and atomicity are described in
`retriever.store`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

import bm25s
import numpy as np
from filelock import FileLock, Timeout
from sqlalchemy import select

from kb.db import kb_id, kb_revision, redact, resolve_url, session_scope
from kb.models import Contribution, Entity
from retriever.dense import DenseIndex, PassageFields, compose_vectors
from retriever.encoders import EmbeddingCache, Encoder, load_encoder
from retriever.hits import Passage
from retriever.intent import expansion_terms
from retriever.linking import EntityLinker
from retriever.passages import PASSAGE_TYPES, kb_entity_names, kb_licenses, read_sections, section_passages
from kb.settings import DEFAULT_INDEX_DIR
from retriever.store import (
    FORMAT,
    ForeignIndexError,
    PassageStore,
    RetrieverError,
    foreign_index,
    index_folder,
    index_dir_setting,
    next_generation,
    pack_tokens,
    read_manifest,
    remove_old_generations,
    slug,
    unpack_tokens,
    write_manifest,
)
from retriever.symptoms import SYMPTOMS_FILE, SymptomIndex
from retriever.tokenizer import Tokenizer

log = logging.getLogger("retriever")
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG

MAX_ALIASES_INDEXED = 5
# `kb ingest`s one after another (the KB lets one write at a time) update the index one after another
AFTER_INGEST_WAIT_S = 600.0


# --------------------------------------------------------------------------- building

def build_index(db_url: str | None = None, index_dir: str | Path = DEFAULT_INDEX_DIR, encoder: str | Encoder = "use",
                resume: bool = True, progress: bool = True, workers: int | None = None) -> dict:
    """Build the index of the whole KB at `db_url` into `index_dir` and return its manifest.

    db_url: SQLAlchemy URL of the KB (--db / KB_DB_URL / sqlite:///var/kb.sqlite).
    index_dir: where the index lives; a new generation is written beside the current one and the
        manifest switched in one rename, so a failed build leaves the old index usable.
    encoder: "use" (default, offline multilingual USE), "hash", or a local sentence-transformers folder.
    resume: reuse the passages and embeddings of an interrupted build of the same KB revision and
        encoder (embeddings are cached by content hash in any case, so rebuilds embed only new text).
    progress: show progress bars on stderr.
    workers: processes for tokenising and embedding (default: 2, or 1 on a single core).
    """
    started = time.perf_counter()
    url = resolve_url(db_url)
    index_dir = index_folder(index_dir, create=True)
    enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
    workers = workers or min(2, os.cpu_count() or 1)
    stages: dict[str, float] = {}
    with _locked(index_dir), _Progress(progress) as bar:
        with session_scope(url) as session:
            revision, kb_ident = kb_revision(session), kb_id(session)
            if kb_ident is None:
                raise RetrieverError(f"the KB at {redact(url)} has no KB id (its schema predates KB ids): "
                                     "run `kb init` to upgrade it")
            partial = index_dir / f"build-r{revision}-{slug(enc.id)}.partial"
            for other in index_dir.glob("build-*.partial"):
                if other != partial or not resume:
                    shutil.rmtree(other, ignore_errors=True)
            partial.mkdir(exist_ok=True)
            store = PassageStore(partial / "passages.sqlite")
            if store.meta("passages_done") and store.meta("kb_id") != kb_ident:
                log.info("discarding %s: an interrupted build of another KB", partial)
                store.close()
                shutil.rmtree(partial)
                partial.mkdir()
                store = PassageStore(partial / "passages.sqlite")
            if store.meta("passages_done"):
                log.info("resuming the build of KB revision %s from %s", revision, partial)
            else:
                t = time.perf_counter()
                _write_passages(session, store, partial, bar, workers)
                store.set_meta(passages_done=True, kb_revision=revision, kb_id=kb_ident)
                stages["passages_s"] = time.perf_counter() - t
        n_passages = store.count()
        t = time.perf_counter()
        cache = EmbeddingCache(index_dir / "embeddings" / f"{slug(enc.id)}.sqlite", enc)
        if (partial / "dense.faiss").exists():
            dense_kind = DenseIndex.load(partial / "dense.faiss").kind
        else:
            rows, fields = _read_fields(store)
            task = bar.add("embedding", 0)
            vectors = compose_vectors(fields, enc, cache, progress=lambda n: bar.advance(task, n),
                                      workers=workers, on_total=lambda n: bar.total(task, n))
            dense = DenseIndex.create(vectors, rows)
            dense_kind = dense.kind
            dense.save(partial / "dense.faiss.tmp")
            os.replace(partial / "dense.faiss.tmp", partial / "dense.faiss")
            del dense, vectors, fields
        stages["dense_s"] = time.perf_counter() - t
        t = time.perf_counter()
        _write_bm25(store, partial)
        stages["bm25_s"] = time.perf_counter() - t
        SymptomIndex.from_store(store).save(partial)
        EntityLinker(store.entity_names()).save(partial)
        store.close()
        cache.close()
        generation = next_generation(index_dir)
        os.replace(partial, index_dir / generation)
        seconds = time.perf_counter() - started
        manifest = {
            "format": FORMAT,
            "generation": generation,
            "encoder": enc.id,
            "dimension": enc.dim,
            "passages": n_passages,
            "kb_revision": revision,
            "kb_id": kb_ident,
            "db_url": _portable_url(url),
            "index_dir": str(index_dir.resolve()),  # a copy of the index is told from it (`_built_elsewhere`)
            "built_at": _now(),
            "updated_at": None,
            "build_seconds": round(seconds, 1),
            "passages_per_second": round(n_passages / seconds, 1) if seconds else None,
            "stages": {k: round(v, 1) for k, v in stages.items()},
            "dense_index": dense_kind,
        }
        write_manifest(index_dir, manifest)
        remove_old_generations(index_dir, generation)
    return manifest


def _write_passages(session, store: PassageStore, partial: Path, bar: "_Progress", workers: int) -> None:
    store.db.executescript("DELETE FROM passages; DELETE FROM entities; DELETE FROM contributions;")
    names = kb_entity_names(session)
    tokenizer = Tokenizer((w for e in names for w in (e.name, *e.aliases)), cache_dir=partial.parent)
    tokenizer.save(partial)
    store.set_entities(names)
    store.set_contributions(_kb_contributions(session))
    store.set_meta(licenses=kb_licenses(session))
    aliases = {e.entity_id: e.aliases for e in names}
    task = bar.add("passages", 0)
    pairs = ((p, sc.contribution_id) for sc in read_sections(session) for p in section_passages(sc))
    store.add_passages(_with_tokens(pairs, tokenizer, aliases, workers, lambda n: bar.advance(task, n)), 1)
    store.commit()


def _kb_contributions(session, entity_ids: Iterable[int] | None = None) -> list[tuple[int, int, int]]:
    q = select(Contribution.id, Contribution.entity_id, Contribution.revision) \
        .join(Entity, Entity.id == Contribution.entity_id).where(Entity.type.in_(PASSAGE_TYPES))
    if entity_ids is None:
        return [tuple(r) for r in session.execute(q)]
    ids = sorted(set(entity_ids))
    return [tuple(r) for i in range(0, len(ids), 500)
            for r in session.execute(q.where(Contribution.entity_id.in_(ids[i : i + 500])))]


def bm25_document(p: Passage, aliases: Sequence[str]) -> str:
    """What BM25 indexes for a passage: its text, the words its section goes by, and the entity's
    other names (so "副作用" finds 不良反应 and a brand name finds the generic's passages)."""
    return " ".join([p.text, *expansion_terms(p.section), *aliases[:MAX_ALIASES_INDEXED]])


_worker_tokenizer: Tokenizer | None = None


def _tokenize_batch(docs: list[str]) -> list[bytes]:
    """Tokens packed for the store, in the worker: compressing is a tenth of the tokenising cost."""
    return [pack_tokens(_worker_tokenizer.tokens(d)) for d in docs]


def _with_tokens(pairs: Iterator[tuple[Passage, int]], tokenizer: Tokenizer, aliases: dict[int, tuple[str, ...]],
                 workers: int, advance) -> Iterator[tuple[Passage, int, bytes]]:
    """(passage, contribution id, packed BM25 tokens), tokenising in `workers` processes in batches."""
    global _worker_tokenizer
    _worker_tokenizer = tokenizer
    batch_size = 2000

    def batches():
        rest = iter(pairs)
        while batch := list(islice(rest, batch_size)):
            yield batch

    docs_of = lambda b: [bm25_document(p, aliases.get(p.entity_id, ())) for p, _ in b]  # noqa: E731
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            pending = []
            for batch in batches():
                pending.append((batch, pool.apply_async(_tokenize_batch, (docs_of(batch),))))
                while len(pending) > workers * 2 or (pending and pending[0][1].ready()):
                    done, result = pending.pop(0)
                    yield from ((p, c, t) for (p, c), t in zip(done, result.get()))
                    advance(len(done))
            for done, result in pending:
                yield from ((p, c, t) for (p, c), t in zip(done, result.get()))
                advance(len(done))
    else:
        for batch in batches():
            yield from ((p, c, t) for (p, c), t in zip(batch, _tokenize_batch(docs_of(batch))))
            advance(len(batch))


def _read_fields(store: PassageStore, where: str = "", args: tuple = ()) -> tuple[np.ndarray, list[PassageFields]]:
    rows, fields = [], []
    for row, name, section, chunk, text, items in store.iter_rows(
        "row, entity_name, section, chunk, text, items", where, args
    ):
        head = f"{name} · {section}："
        body = text[len(head):] if text.startswith(head) else text
        rows.append(row)
        fields.append(PassageFields(row, name, section, chunk, body, json.loads(items)))
    return np.asarray(rows, dtype=np.int64), fields


def _write_bm25(store: PassageStore, gen_dir: Path) -> None:
    """bm25s over the stored tokens. Token ids share one int object per vocabulary entry, which keeps
    the 300k-passage corpus at a few hundred MB while bm25s builds its matrix."""
    for stale in ("bm25", "bm25.tmp"):
        shutil.rmtree(gen_dir / stale, ignore_errors=True)
    vocab: dict[str, int] = {}
    rows, corpus = [], []
    for row, tokens in store.iter_rows("row, tokens"):
        rows.append(row)
        corpus.append([vocab.setdefault(t, len(vocab)) for t in unpack_tokens(tokens)])
    if not rows:
        return
    vocab.setdefault("", len(vocab))  # bm25s scores an all-unknown query against this empty token
    model = bm25s.BM25()
    model.index((corpus, vocab), show_progress=False)
    model.save(str(gen_dir / "bm25.tmp"), show_progress=False)
    np.save(gen_dir / "bm25.tmp" / "rows.npy", np.asarray(rows, dtype=np.int64))
    os.replace(gen_dir / "bm25.tmp", gen_dir / "bm25")


# --------------------------------------------------------------------------- updating

def update_index(db_url: str | None = None, index_dir: str | Path = DEFAULT_INDEX_DIR, encoder: Encoder | None = None,
                 progress: bool = False, wait_s: float = 0, moved: bool = False) -> dict:
    """Bring the index up to the KB's revision, touching only the passages of entities that changed.

    Returns {"added", "replaced", "removed", "unchanged", "entities", "kb_revision_before",
    "kb_revision", "seconds", ...}. Entities whose contributions changed (or disappeared) since the
    index's revision are re-read; their passages are diffed by id and content hash. The passage store
    and FAISS get exactly those changes; BM25 is re-indexed from the stored tokens (its IDF depends on
    every document), without re-tokenising anything else. `wait_s`: how long to wait for another
    build or update of the same folder (default: fail at once). `moved`: the KB at `db_url` is the one
    the index was built from, moved or restored elsewhere with its index (its KB id must still match):
    the index takes its URL instead of refusing it as another database.
    """
    started = time.perf_counter()
    url = resolve_url(db_url)
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise RetrieverError(f"no index at {index_dir}: run `retriever build` first")
    with _locked(index_dir, wait_s):
        manifest = read_manifest(index_dir)
        old_dir = index_dir / manifest["generation"]
        old = PassageStore(old_dir / "passages.sqlite", readonly=True)
        known = old.contributions()
        with session_scope(url) as session:
            revision = kb_revision(session)
            adopted = _check_identity(manifest, kb_id(session), index_dir, url, moved)
            report = {"added": 0, "replaced": 0, "removed": 0, "unchanged": old.count(), "entities": 0,
                      "entity_ids": [], "kb_revision_before": manifest["kb_revision"], "kb_revision": revision}
            current = {cid: (eid, rev) for cid, eid, rev in _kb_contributions(session)}
            changed = {eid for cid, (eid, rev) in current.items() if known.get(cid, (None, None))[1] != rev}
            changed |= {eid for cid, (eid, _) in known.items() if cid not in current}
            if not changed:
                old.close()
                _add_quick_files(old_dir, kb_licenses(session))
                if revision != manifest["kb_revision"] or adopted:
                    manifest.update(kb_revision=revision, updated_at=_now())
                    write_manifest(index_dir, manifest)
                report["seconds"] = round(time.perf_counter() - started, 2)
                return report
            entity_ids = sorted(changed)
            names = kb_entity_names(session, entity_ids)
            new_passages = [(p, sc.contribution_id) for sc in read_sections(session, entity_ids)
                            for p in section_passages(sc)]
            contributions = _kb_contributions(session, entity_ids)
            licenses = kb_licenses(session)

        # diff against what the index holds for those entities
        before = {p.id: (row, p) for row, p in old.of_entities(entity_ids)}
        after = {p.id: (p, cid) for p, cid in new_passages}
        removed_rows = [row for pid, (row, _) in before.items() if pid not in after]
        replaced, added, refreshed = [], [], []
        for pid, (p, cid) in after.items():
            if pid not in before:
                added.append((p, cid))
            elif before[pid][1].content_hash != p.content_hash:
                replaced.append((before[pid][0], p, cid))
            elif before[pid][1] != p:
                refreshed.append((before[pid][0], p, cid))  # same text, new revision or source: no re-embedding
        old.close()

        # write the next generation beside the current one
        new_dir = index_dir / f"{next_generation(index_dir)}.partial"
        shutil.rmtree(new_dir, ignore_errors=True)
        new_dir.mkdir()
        src = sqlite3.connect(old_dir / "passages.sqlite")
        dst = sqlite3.connect(new_dir / "passages.sqlite")
        src.backup(dst)
        src.close()
        dst.close()
        store = PassageStore(new_dir / "passages.sqlite")
        tokenizer = Tokenizer.read(old_dir)
        for e in names:
            for w in (e.name, *e.aliases):
                tokenizer.add_word(w)
        tokenizer.save(new_dir)
        gone = removed_rows + [row for row, _, _ in replaced]
        store.db.executemany("DELETE FROM passages WHERE row=?", [(row,) for row in gone])
        for row, p, cid in refreshed:
            store.db.execute("UPDATE passages SET source=?, kb_revision=?, contribution_id=?, authority=? WHERE row=?",
                             (p.source, p.kb_revision, cid, p.authority, row))
        aliases = {e.entity_id: e.aliases for e in names}
        fresh = added + [(p, cid) for _, p, cid in replaced]
        first_new = store.next_row()
        store.add_passages(((p, cid, pack_tokens(tokenizer.tokens(bm25_document(p, aliases.get(p.entity_id, ())))))
                            for p, cid in fresh), first_new)
        store.db.executemany("DELETE FROM entities WHERE entity_id=?", [(e,) for e in entity_ids])
        store.set_entities(names)
        store.db.executemany("DELETE FROM contributions WHERE entity_id=?", [(e,) for e in entity_ids])
        store.set_contributions(contributions)
        store.set_meta(kb_revision=revision, licenses=licenses)
        store.commit()

        dense = DenseIndex.load(old_dir / "dense.faiss")
        dense.remove(gone)
        if fresh:
            enc = encoder or load_encoder(manifest["encoder"])
            if enc.id != manifest["encoder"]:
                raise RetrieverError(f"index was built with {manifest['encoder']}, not {enc.id}")
            rows, fields = _read_fields(store, "WHERE row >= ?", (first_new,))
            cache = EmbeddingCache(index_dir / "embeddings" / f"{slug(enc.id)}.sqlite", enc)
            dense.add(compose_vectors(fields, enc, cache), rows)
            cache.close()
        dense.save(new_dir / "dense.faiss")
        _write_bm25(store, new_dir)
        SymptomIndex.from_store(store).save(new_dir)
        EntityLinker(store.entity_names()).save(new_dir)
        n = store.count()
        store.close()

        generation = new_dir.name.removesuffix(".partial")
        os.replace(new_dir, index_dir / generation)
        manifest.update(generation=generation, passages=n, kb_revision=revision, updated_at=_now())
        write_manifest(index_dir, manifest)
        remove_old_generations(index_dir, generation)
    touched = len(added) + len(replaced) + len(removed_rows)
    report.update(added=len(added), replaced=len(replaced), removed=len(removed_rows),
                  unchanged=n - len(added) - len(replaced), entities=len(entity_ids),
                  entity_ids=entity_ids[:100], passages_touched=touched,
                  seconds=round(time.perf_counter() - started, 2))
    return report


def _add_quick_files(generation: Path, licenses: dict[str, str]) -> None:
    """Give a generation written by an earlier version the files that load it quickly (the jieba dictionary as
    SQLite, the linker, the findings index), each written whole beside what it replaces: same content; and
    the sources' licence notes as the KB has them now (a re-ingest may change a note and nothing else)."""
    store = PassageStore(generation / "passages.sqlite")
    try:
        if store.meta("licenses") != licenses:
            store.set_meta(licenses=licenses)
    finally:
        store.close()
    if not (generation / Tokenizer.FILE).exists():
        Tokenizer.read(generation).save(generation)
    if not (generation / EntityLinker.FILE).exists() or not (generation / SYMPTOMS_FILE).exists():
        store = PassageStore(generation / "passages.sqlite", readonly=True)
        try:
            if not (generation / EntityLinker.FILE).exists():
                EntityLinker(store.entity_names()).save(generation)
            if not (generation / SYMPTOMS_FILE).exists():
                SymptomIndex.open(generation, store).save(generation)
        finally:
            store.close()


def update_after_ingest(db_url: str | None = None, index_dir: str | Path | None = None) -> dict:
    """Hook for `kb ingest` (entry point group "yiju.after_ingest"): bring the index at `index_dir`
    (default: $YIJU_INDEX, else var/index) up to the KB when it was built from this same KB. Says
    which index it updated, or why it updated none, so a skipped update is never silent."""
    index_dir = Path(index_dir or index_dir_setting())
    manifest = read_manifest(index_dir)
    if manifest is None:
        return {"index": str(index_dir), "updated": False,
                "reason": f"no index at {index_dir}: run `retriever build --index {index_dir}` (or pass --index)"}
    elsewhere = _built_elsewhere(manifest, index_dir, resolve_url(db_url))
    if elsewhere:  # said before waiting for the index lock
        return {"index": str(index_dir), "updated": False, "reason": elsewhere}
    try:
        return {"index": str(index_dir), "updated": True} | update_index(db_url, index_dir, wait_s=AFTER_INGEST_WAIT_S)
    except ForeignIndexError as exc:
        return {"index": str(index_dir), "updated": False, "reason": str(exc)}


def _check_identity(manifest: dict, kb_ident: str | None, index_dir: Path, url: str, moved: bool = False) -> bool:
    """The one rule for changing an index (`retriever update`, and `kb ingest`'s update through it): raise
    ForeignIndexError unless it belongs to the database at `url` (`_built_elsewhere`) and to the KB with
    id `kb_ident` (`foreign_index`).

    The index takes this KB's URL and its own folder into `manifest` when it was copied or moved with the
    KB, or `moved` says the KB moved (`retriever update --kb-moved`); an index from before KB ids built
    from this URL takes this KB's id. True when it took anything, and the caller writes the manifest.
    """
    elsewhere = _built_elsewhere(manifest, index_dir, url)
    if elsewhere and not moved:
        raise ForeignIndexError(elsewhere + "; or, if this is that KB moved elsewhere, pass --kb-moved")
    adopted = manifest.get("kb_id") is None and kb_ident is not None and same_db(manifest.get("db_url"), url)
    if adopted:
        manifest["kb_id"] = kb_ident
    problem = foreign_index(manifest, kb_ident, index_dir, redact(url))
    if problem:
        raise ForeignIndexError(problem)
    here = str(Path(index_dir).resolve())
    if not same_db(manifest.get("db_url"), url) or manifest.get("index_dir") != here:
        manifest.update(db_url=_portable_url(url), index_dir=here)
        adopted = True
    return adopted


def _built_elsewhere(manifest: dict, index_dir: Path, url: str) -> str | None:
    """Why the index may not be changed from the database at `url` (None when it may): it belongs to
    another database. A copy of a KB (a copied SQLite file, a restored dump) keeps the KB's id, so the id
    alone cannot tell the copy from the original: an index follows the database it was built from, unless
    the index itself was copied or moved with it (its folder is not the one its manifest names)."""
    built_at, built_in = manifest.get("db_url"), manifest.get("index_dir")
    if built_at is None or same_db(built_at, url):
        return None
    if built_in is not None and built_in != str(Path(index_dir).resolve()):
        return None  # the KB and its index copied (or moved) together: the copy's database takes it
    return (f"index {index_dir} was built from another KB database ({built_at}), not from {redact(url)} (a copy "
            f"of a KB keeps its KB id; an index follows one database): run `retriever build` for this KB, "
            f"or update the index from the KB it was built from")


def same_db(a: str | None, b: str | None) -> bool:
    """Whether two KB URLs name one database: SQLite files by absolute path; other databases by backend,
    user, host, port (the default when left out) and name, whatever the driver or the password."""
    return bool(a and b) and _database(a) == _database(b)


def _database(url: str) -> tuple:
    from sqlalchemy.engine import make_url

    if url.startswith("sqlite"):
        return (_portable_url(url),)
    try:
        u = make_url(url)
    except Exception:  # an unparsable URL is only equal to itself
        return (url,)
    port = u.port or {"postgresql": 5432, "mysql": 3306}.get(u.get_backend_name())
    return u.get_backend_name(), u.username, (u.host or "").lower(), port, u.database


def _portable_url(url: str) -> str:
    """SQLite paths made absolute (so `var/kb.sqlite` from another folder still compares equal), passwords hidden."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and ":memory:" not in url:
        return "sqlite:///" + str(Path(url[len("sqlite:///"):]).resolve())
    return redact(url)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextlib.contextmanager
def _locked(index_dir: Path, wait_s: float = 0):
    """One writer at a time per index folder: a second build or update waits `wait_s`, then fails saying why."""
    try:
        with FileLock(Path(index_dir) / ".lock", timeout=wait_s):
            yield
    except Timeout:
        raise RetrieverError(f"{index_dir} is being built or updated by another process; try again when it is done") from None


class _Progress:
    """rich progress bars on stderr, or nothing."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), console=Console(stderr=True), transient=False)
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()

    def add(self, name: str, total: int | None):
        return self.bar.add_task(name, total=total or None) if self.bar else None

    def total(self, task, n: int) -> None:
        if self.bar:
            self.bar.update(task, total=n)

    def advance(self, task, n: int) -> None:
        if self.bar:
            self.bar.advance(task, n)


__all__ = ["build_index", "update_index", "update_after_ingest", "bm25_document"]
