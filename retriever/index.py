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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

import bm25s
import numpy as np
from filelock import FileLock, Timeout
from sqlalchemy import select

from kb.db import kb_id, kb_revision, redact, resolve_url, session_scope
from kb.models import Contribution, Entity
from kb.records import ENTITY_TYPES
from retriever.dense import DenseIndex, PassageFields, compose_vectors
from retriever.encoders import EmbeddingCache, Encoder, load_encoder
from retriever.hits import Passage
from retriever.intent import expansion_terms
from retriever.linking import EntityLinker
from retriever.passages import (
    EntityName,
    kb_entity_names,
    kb_licenses,
    read_sections,
    section_passages,
)
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
    clock = _Clock()
    url = resolve_url(db_url)
    index_dir = index_folder(index_dir, create=True)
    enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
    workers = workers or min(2, os.cpu_count() or 1)
    with _locked(index_dir), _Progress(progress) as bar:
        with session_scope(url) as session:
            revision, kb_ident = _kb_identity(session, url)
            partial, store = _start_build(index_dir, revision, kb_ident, enc, resume)
            if store.meta("passages_done"):
                log.info("resuming the build of KB revision %s from %s", revision, partial)
            else:
                with clock.stage("passages_s"):
                    _write_passages(session, store, partial, bar, workers)
                    store.set_meta(passages_done=True, kb_revision=revision, kb_id=kb_ident)
        with clock.stage("dense_s"):
            dense_kind = _build_dense(store, partial, index_dir, enc, bar, workers)
        generation = next_generation(index_dir)
        n_passages = _finish_generation(store, partial, index_dir, generation, clock)
        manifest = _build_manifest(generation, enc, n_passages, revision, kb_ident, url, index_dir, dense_kind, clock)
        _switch_to(index_dir, manifest)
    return manifest


def _kb_identity(session, url: str) -> tuple[int, str]:
    """The KB's revision and id; a KB without an id (its schema predates KB ids) cannot be indexed."""
    revision, kb_ident = kb_revision(session), kb_id(session)
    if kb_ident is None:
        raise RetrieverError(f"the KB at {redact(url)} has no KB id (its schema predates KB ids): "
                             "run `kb init` to upgrade it")
    return revision, kb_ident


def _start_build(index_dir: Path, revision: int, kb_ident: str, enc: Encoder, resume: bool) -> tuple[Path, PassageStore]:
    """The build's folder beside the current generation, named by KB revision and encoder, and its passage store:
    an interrupted build of the same KB and encoder is kept when resuming; any other is removed."""
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
    return partial, store


def _write_passages(session, store: PassageStore, partial: Path, bar: "_Progress", workers: int) -> None:
    """The whole KB into an emptied store: entities, contributions, licence notes and the tokenised passages, with
    a tokenizer that knows every name (saved in `partial`)."""
    kb = _read_kb(session)
    store.db.executescript("DELETE FROM passages; DELETE FROM entities; DELETE FROM contributions;")
    tokenizer = Tokenizer(_name_words(kb.names), cache_dir=partial.parent)
    tokenizer.save(partial)
    _put_entities(store, kb.names, kb.contributions)
    store.set_meta(licenses=kb.licenses)
    task = bar.add("passages", 0)
    _add_passages(store, kb.passages, tokenizer, kb.names, 1, workers, lambda n: bar.advance(task, n))
    store.commit()


def _build_dense(store: PassageStore, partial: Path, index_dir: Path, enc: Encoder, bar: "_Progress",
                 workers: int) -> str:
    """The FAISS index of every passage (kept when an interrupted build wrote it); returns its kind."""
    with _embedding_cache(index_dir, enc) as cache:
        if (partial / "dense.faiss").exists():
            return DenseIndex.load(partial / "dense.faiss").kind
        vectors, rows = _embed(store, enc, cache, bar, workers)
    dense = DenseIndex.create(vectors, rows)
    dense.save(partial / "dense.faiss.tmp")
    os.replace(partial / "dense.faiss.tmp", partial / "dense.faiss")
    return dense.kind


def _build_manifest(generation: str, enc: Encoder, n_passages: int, revision: int, kb_ident: str, url: str,
                    index_dir: Path, dense_kind: str, clock: "_Clock") -> dict:
    seconds = clock.seconds()
    return {
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
        "stages": {k: round(v, 1) for k, v in clock.stages.items()},
        "dense_index": dense_kind,
    }


# --------------------------------------------------------------------------- what building and updating share

@dataclass
class _KbPart:
    """What the index takes from the KB, for every entity (a build) or some (an update): names with aliases,
    passages with their contribution ids (read lazily: while the session is open), contributions, licence notes."""

    names: list[EntityName]
    passages: Iterator[tuple[Passage, int]]
    contributions: list[tuple[int, int, int]]
    licenses: dict[str, str]


def _read_kb(session, entity_ids: Sequence[int] | None = None) -> _KbPart:
    sections = read_sections(session, entity_ids)
    return _KbPart(names=kb_entity_names(session, entity_ids),
                   passages=((p, sc.contribution_id) for sc in sections for p in section_passages(sc)),
                   contributions=_kb_contributions(session, entity_ids), licenses=kb_licenses(session))


def _kb_contributions(session, entity_ids: Iterable[int] | None = None) -> list[tuple[int, int, int]]:
    q = select(Contribution.id, Contribution.entity_id, Contribution.revision) \
        .join(Entity, Entity.id == Contribution.entity_id).where(Entity.type.in_(ENTITY_TYPES))
    if entity_ids is None:
        return [tuple(r) for r in session.execute(q)]
    ids = sorted(set(entity_ids))
    return [tuple(r) for i in range(0, len(ids), 500)
            for r in session.execute(q.where(Contribution.entity_id.in_(ids[i : i + 500])))]


def _name_words(names: Iterable[EntityName]) -> Iterator[str]:
    """The words the tokenizer keeps whole: every name and alias."""
    return (w for e in names for w in (e.name, *e.aliases))


def _put_entities(store: PassageStore, names: list[EntityName], contributions: list[tuple[int, int, int]],
                  replacing: Sequence[int] = ()) -> None:
    """The entities' names and contributions into the store, in place of what it held for `replacing`."""
    store.db.executemany("DELETE FROM entities WHERE entity_id=?", [(e,) for e in replacing])
    store.set_entities(names)
    store.db.executemany("DELETE FROM contributions WHERE entity_id=?", [(e,) for e in replacing])
    store.set_contributions(contributions)


def _add_passages(store: PassageStore, pairs: Iterable[tuple[Passage, int]], tokenizer: Tokenizer,
                  names: list[EntityName], first_row: int, workers: int = 1, advance=lambda n: None) -> None:
    """(passage, contribution id) pairs into the store from `first_row` on, with their BM25 tokens."""
    aliases = {e.entity_id: e.aliases for e in names}
    store.add_passages(_with_tokens(pairs, tokenizer, aliases, workers, advance), first_row)


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


def _embedding_cache(index_dir: Path, enc: Encoder) -> contextlib.closing[EmbeddingCache]:
    """The index folder's embeddings of `enc`, by content hash, shared by every build and update."""
    return contextlib.closing(EmbeddingCache(index_dir / "embeddings" / f"{slug(enc.id)}.sqlite", enc))


def _embed(store: PassageStore, enc: Encoder, cache: EmbeddingCache, bar: "_Progress", workers: int,
           from_row: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, rows) of the stored passages (from row `from_row` on, when given)."""
    rows, fields = _read_fields(store, *(("WHERE row >= ?", (from_row,)) if from_row is not None else ()))
    task = bar.add("embedding", 0)
    vectors = compose_vectors(fields, enc, cache, progress=lambda n: bar.advance(task, n), workers=workers,
                              on_total=lambda n: bar.total(task, n))
    return vectors, rows


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


def _finish_generation(store: PassageStore, partial: Path, index_dir: Path, generation: str, clock: "_Clock") -> int:
    """What search loads beside the passages (BM25, the findings index, the linker), written from the store;
    then the store closed and `partial` renamed `generation`. Returns the generation's passage count."""
    with clock.stage("bm25_s"):
        _write_bm25(store, partial)
    SymptomIndex.from_store(store).save(partial)
    EntityLinker(store.entity_names()).save(partial)
    n_passages = store.count()
    store.close()
    os.replace(partial, index_dir / generation)
    return n_passages


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


def _switch_to(index_dir: Path, manifest: dict) -> None:
    """The manifest names the new generation (one rename); older generations go."""
    write_manifest(index_dir, manifest)
    remove_old_generations(index_dir, manifest["generation"])


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
    the index takes its URL instead of refusing it as another database. `progress` is accepted and unused
    (an update shows no progress bars).
    """
    clock = _Clock()
    url = resolve_url(db_url)
    index_dir = Path(index_dir)
    if read_manifest(index_dir) is None:
        raise RetrieverError(f"no index at {index_dir}: run `retriever build` first")
    with _locked(index_dir, wait_s):
        manifest = read_manifest(index_dir)
        old_dir = index_dir / manifest["generation"]
        old = PassageStore(old_dir / "passages.sqlite", readonly=True)
        with session_scope(url) as session:
            revision = kb_revision(session)
            adopted = _check_identity(manifest, kb_id(session), index_dir, url, moved)
            report = _update_report(manifest, revision, old.count())
            entity_ids = _changed_entities(old.contributions(), _kb_contributions(session))
            if not entity_ids:
                old.close()
                _nothing_to_update(index_dir, old_dir, manifest, revision, adopted, kb_licenses(session))
                return report | {"seconds": round(clock.seconds(), 2)}
            kb = _read_kb(session, entity_ids)
            diff = _diff(old.of_entities(entity_ids), kb.passages)
        old.close()
        partial, store, tokenizer = _start_update(index_dir, old_dir, kb.names)
        first_new = _apply_diff(store, diff, tokenizer, kb, entity_ids, revision)
        _update_dense(store, diff, first_new, old_dir, partial, index_dir, manifest, encoder)
        generation = partial.name.removesuffix(".partial")
        n_passages = _finish_generation(store, partial, index_dir, generation, clock)
        manifest.update(generation=generation, passages=n_passages, kb_revision=revision, updated_at=_now())
        _switch_to(index_dir, manifest)
    report.update(added=len(diff.added), replaced=len(diff.replaced), removed=len(diff.removed),
                  unchanged=n_passages - len(diff.added) - len(diff.replaced), entities=len(entity_ids),
                  entity_ids=entity_ids[:100], passages_touched=diff.touched, seconds=round(clock.seconds(), 2))
    return report


def _update_report(manifest: dict, revision: int, unchanged: int) -> dict:
    return {"added": 0, "replaced": 0, "removed": 0, "unchanged": unchanged, "entities": 0, "entity_ids": [],
            "kb_revision_before": manifest["kb_revision"], "kb_revision": revision}


def _changed_entities(known: dict[int, tuple[int, int]], current: list[tuple[int, int, int]]) -> list[int]:
    """The entities (sorted ids) with a contribution the index lacks, holds at another revision, or holds
    although the KB no longer has it. `known`: the index's {contribution id: (entity id, revision)}."""
    now = {cid: (eid, rev) for cid, eid, rev in current}
    changed = {eid for cid, (eid, rev) in now.items() if known.get(cid, (None, None))[1] != rev}
    changed |= {eid for cid, (eid, _) in known.items() if cid not in now}
    return sorted(changed)


def _nothing_to_update(index_dir: Path, generation: Path, manifest: dict, revision: int, adopted: bool,
                       licenses: dict[str, str]) -> None:
    """No entity changed: the current generation stays, given the files an earlier version did not write and
    the KB's licence notes; the manifest follows the KB's revision (and what `_check_identity` adopted)."""
    _add_quick_files(generation, licenses)
    if revision != manifest["kb_revision"] or adopted:
        manifest.update(kb_revision=revision, updated_at=_now())
        write_manifest(index_dir, manifest)


@dataclass
class _Diff:
    """An update's changes to the passages of the changed entities, against what the index holds for them."""

    added: list[tuple[Passage, int]] = field(default_factory=list)  # (passage, contribution id)
    replaced: list[tuple[int, Passage, int]] = field(default_factory=list)  # (row, ...): new text, re-embedded
    refreshed: list[tuple[int, Passage, int]] = field(default_factory=list)  # same text, new revision or source
    removed: list[int] = field(default_factory=list)  # rows

    @property
    def gone(self) -> list[int]:
        """Rows that leave the store and FAISS: removed and replaced."""
        return self.removed + [row for row, _, _ in self.replaced]

    @property
    def fresh(self) -> list[tuple[Passage, int]]:
        """Passages to tokenise and embed: added and replaced."""
        return self.added + [(p, cid) for _, p, cid in self.replaced]

    @property
    def touched(self) -> int:
        return len(self.added) + len(self.replaced) + len(self.removed)


def _diff(held: Iterable[tuple[int, Passage]], passages: Iterable[tuple[Passage, int]]) -> _Diff:
    """`held`: (row, passage) the index has for the changed entities; `passages`: (passage, contribution id) the
    KB has for them now. Passages are matched by id and compared by content hash."""
    before = {p.id: (row, p) for row, p in held}
    after = {p.id: (p, cid) for p, cid in passages}
    diff = _Diff(removed=[row for pid, (row, _) in before.items() if pid not in after])
    for pid, (p, cid) in after.items():
        if pid not in before:
            diff.added.append((p, cid))
        elif before[pid][1].content_hash != p.content_hash:
            diff.replaced.append((before[pid][0], p, cid))
        elif before[pid][1] != p:
            diff.refreshed.append((before[pid][0], p, cid))  # no re-embedding
    return diff


def _start_update(index_dir: Path, old_dir: Path, names: list[EntityName]) -> tuple[Path, PassageStore, Tokenizer]:
    """The next generation's folder beside the current one, with a copy of its passage store and its tokenizer
    taught the changed entities' names (saved there)."""
    partial = index_dir / f"{next_generation(index_dir)}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    src = sqlite3.connect(old_dir / "passages.sqlite")
    dst = sqlite3.connect(partial / "passages.sqlite")
    src.backup(dst)
    src.close()
    dst.close()
    store = PassageStore(partial / "passages.sqlite")
    tokenizer = Tokenizer.read(old_dir)
    for word in _name_words(names):
        tokenizer.add_word(word)
    tokenizer.save(partial)
    return partial, store, tokenizer


def _apply_diff(store: PassageStore, diff: _Diff, tokenizer: Tokenizer, kb: _KbPart, entity_ids: list[int],
                revision: int) -> int:
    """The diff into the copied store, with the changed entities and the KB's revision and licence notes;
    returns the first row of the new passages."""
    store.db.executemany("DELETE FROM passages WHERE row=?", [(row,) for row in diff.gone])
    for row, p, cid in diff.refreshed:
        store.db.execute("UPDATE passages SET source=?, kb_revision=?, contribution_id=?, authority=?, differs=? "
                         "WHERE row=?", (p.source, p.kb_revision, cid, p.authority, ",".join(p.differs), row))
    first_new = store.next_row()
    _add_passages(store, diff.fresh, tokenizer, kb.names, first_new)
    _put_entities(store, kb.names, kb.contributions, replacing=entity_ids)
    store.set_meta(kb_revision=revision, licenses=kb.licenses)
    store.commit()
    return first_new


def _update_dense(store: PassageStore, diff: _Diff, first_new: int, old_dir: Path, partial: Path, index_dir: Path,
                  manifest: dict, encoder: Encoder | None) -> None:
    """The current FAISS index without the rows gone, with the new passages embedded by the index's encoder."""
    dense = DenseIndex.load(old_dir / "dense.faiss")
    dense.remove(diff.gone)
    if diff.fresh:
        enc = encoder or load_encoder(manifest["encoder"])
        if enc.id != manifest["encoder"]:
            raise RetrieverError(f"index was built with {manifest['encoder']}, not {enc.id}")
        with _embedding_cache(index_dir, enc) as cache:
            vectors, rows = _embed(store, enc, cache, _Progress(False), 1, from_row=first_new)
        dense.add(vectors, rows)
    dense.save(partial / "dense.faiss")


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


class _Clock:
    """Seconds since the start, and per named stage (a build's manifest reports them)."""

    def __init__(self):
        self.started = time.perf_counter()
        self.stages: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str):
        started = time.perf_counter()
        yield
        self.stages[name] = time.perf_counter() - started

    def seconds(self) -> float:
        return time.perf_counter() - self.started


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
