"""Build, update and query the retrieval index.

    manifest = build_index("sqlite:///var/kb.sqlite", "var/index")      # full build (resumable)
    report = update_index("sqlite:///var/kb.sqlite", "var/index")       # only what changed in the KB
    r = Retriever.load("var/index")
    result = r.search("阿莫西林有什么副作用？", k=5)                        # fused entity + BM25 + dense

Four channels share one passage store: entity linking (passages of the entities named in the
question, the asked section first), BM25 over jieba tokens, dense vectors in FAISS, and their
reciprocal-rank fusion with boosts. Layout and atomicity are described in `retriever.store`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

import bm25s
import numpy as np
from sqlalchemy import select

from kb.db import DatabaseError, kb_revision, redact, resolve_url, session_scope
from kb.models import Contribution, Entity
from retriever.dense import DenseIndex, PassageFields, compose_vectors
from retriever.encoders import MAX_QUERY_CHARS, EmbeddingCache, Encoder, load_encoder
from retriever.fusion import fuse
from retriever.hits import EntityMention, Passage, RetrievalHit, RetrievalResult
from retriever.analysis import QueryAnalysis, analyze, is_weak
from retriever.intent import expansion_terms
from retriever.linking import EntityLinker
from retriever.passages import PASSAGE_TYPES, kb_entity_names, read_sections, section_passages
from retriever.rerank import RERANK_DEPTH, load_reranker
from retriever.symptoms import SymptomIndex
from retriever.store import (
    FORMAT,
    PassageStore,
    RetrieverError,
    StaleIndexError,
    next_generation,
    pack_tokens,
    read_manifest,
    remove_old_generations,
    slug,
    unpack_tokens,
    write_manifest,
)
from retriever.tokenizer import Tokenizer

log = logging.getLogger("retriever")
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG

DEFAULT_INDEX_DIR = "var/index"
CHANNELS = ("entity", "bm25", "dense")
DEPTH = 50  # candidates per channel that go into fusion
REVERSE_WEIGHTS = {"bm25": 1.0, "dense": 0.3}  # fusion weights for "which disease has these symptoms?"
MAX_BM25_CHARS = 1000  # a 10k-character question is tokenised by its start
MAX_ALIASES_INDEXED = 5
_WORDS = re.compile(r"[\w\u4e00-\u9fff]")  # \w covers CJK too; emoji and punctuation are not words
CHECK_EVERY_S = 2.0  # how often a long-lived Retriever looks for a new generation or a moved KB
# When the question names an entity but no section, the entity channel shows these first.
SECTION_PRIORITY = (
    "概述", "适应症", "症状", "用法用量", "不良反应", "禁忌", "注意事项", "常用药物", "检查", "治疗方式", "病因",
    "临床意义", "相关疾病", "正常值", "就诊科室", "并发症", "预防", "药物相互作用", "成份",
)


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
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
    workers = workers or min(2, os.cpu_count() or 1)
    stages: dict[str, float] = {}
    with _locked(index_dir), _Progress(progress) as bar:
        with session_scope(url) as session:
            revision = kb_revision(session)
            partial = index_dir / f"build-r{revision}-{slug(enc.id)}.partial"
            for other in index_dir.glob("build-*.partial"):
                if other != partial or not resume:
                    shutil.rmtree(other, ignore_errors=True)
            partial.mkdir(exist_ok=True)
            store = PassageStore(partial / "passages.sqlite")
            if store.meta("passages_done"):
                log.info("resuming the build of KB revision %s from %s", revision, partial)
            else:
                t = time.perf_counter()
                _write_passages(session, store, partial, bar, workers)
                store.set_meta(passages_done=True, kb_revision=revision)
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
            "db_url": _portable_url(url),
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
    tokenizer = Tokenizer(w for e in names for w in (e.name, *e.aliases))
    tokenizer.save(partial / "jieba.freq")
    store.set_entities(names)
    store.set_contributions(_kb_contributions(session))
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
                 progress: bool = False) -> dict:
    """Bring the index up to the KB's revision, touching only the passages of entities that changed.

    Returns {"added", "replaced", "removed", "unchanged", "entities", "kb_revision_before",
    "kb_revision", "seconds", ...}. Entities whose contributions changed (or disappeared) since the
    index's revision are re-read; their passages are diffed by id and content hash. The passage store
    and FAISS get exactly those changes; BM25 is re-indexed from the stored tokens (its IDF depends on
    every document), without re-tokenising anything else.
    """
    started = time.perf_counter()
    url = resolve_url(db_url)
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise RetrieverError(f"no index at {index_dir}: run `retriever build` first")
    with _locked(index_dir):
        manifest = read_manifest(index_dir)
        old_dir = index_dir / manifest["generation"]
        old = PassageStore(old_dir / "passages.sqlite", readonly=True)
        known = old.contributions()
        with session_scope(url) as session:
            revision = kb_revision(session)
            report = {"added": 0, "replaced": 0, "removed": 0, "unchanged": old.count(), "entities": 0,
                      "entity_ids": [], "kb_revision_before": manifest["kb_revision"], "kb_revision": revision}
            current = {cid: (eid, rev) for cid, eid, rev in _kb_contributions(session)}
            changed = {eid for cid, (eid, rev) in current.items() if known.get(cid, (None, None))[1] != rev}
            changed |= {eid for cid, (eid, _) in known.items() if cid not in current}
            if not changed:
                old.close()
                if revision != manifest["kb_revision"]:
                    manifest.update(kb_revision=revision, updated_at=_now())
                    write_manifest(index_dir, manifest)
                report["seconds"] = round(time.perf_counter() - started, 2)
                return report
            entity_ids = sorted(changed)
            names = kb_entity_names(session, entity_ids)
            new_passages = [(p, sc.contribution_id) for sc in read_sections(session, entity_ids)
                            for p in section_passages(sc)]
            contributions = _kb_contributions(session, entity_ids)

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
        tokenizer = Tokenizer.load(old_dir / "jieba.freq")
        for e in names:
            for w in (e.name, *e.aliases):
                tokenizer.add_word(w)
        tokenizer.save(new_dir / "jieba.freq")
        gone = removed_rows + [row for row, _, _ in replaced]
        store.db.executemany("DELETE FROM passages WHERE row=?", [(row,) for row in gone])
        for row, p, cid in refreshed:
            store.db.execute("UPDATE passages SET source=?, kb_revision=?, contribution_id=? WHERE row=?",
                             (p.source, p.kb_revision, cid, row))
        aliases = {e.entity_id: e.aliases for e in names}
        fresh = added + [(p, cid) for _, p, cid in replaced]
        first_new = store.next_row()
        store.add_passages(((p, cid, pack_tokens(tokenizer.tokens(bm25_document(p, aliases.get(p.entity_id, ())))))
                            for p, cid in fresh), first_new)
        store.db.executemany("DELETE FROM entities WHERE entity_id=?", [(e,) for e in entity_ids])
        store.set_entities(names)
        store.db.executemany("DELETE FROM contributions WHERE entity_id=?", [(e,) for e in entity_ids])
        store.set_contributions(contributions)
        store.set_meta(kb_revision=revision)
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


def update_after_ingest(db_url: str | None = None) -> dict | None:
    """Hook for `kb ingest` (entry point group "yiju.after_ingest"): update ./var/index when it exists and
    was built from this same KB; None when there is no such index (nothing to do)."""
    index_dir = Path(DEFAULT_INDEX_DIR)
    manifest = read_manifest(index_dir) if (index_dir / "manifest.json").exists() else None
    if manifest is None or not same_db(manifest.get("db_url"), resolve_url(db_url)):
        return None
    return update_index(db_url, index_dir)


def same_db(a: str | None, b: str | None) -> bool:
    return bool(a and b) and _portable_url(a) == _portable_url(b)


def _portable_url(url: str) -> str:
    """SQLite paths made absolute (so `var/kb.sqlite` from another folder still compares equal), passwords hidden."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and ":memory:" not in url:
        return "sqlite:///" + str(Path(url[len("sqlite:///"):]).resolve())
    return redact(url)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextlib.contextmanager
def _locked(index_dir: Path):
    """One writer at a time per index folder (a second build or update fails at once, saying why)."""
    path = Path(index_dir) / ".lock"
    with open(path, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RetrieverError(f"{index_dir} is being built or updated by another process; try again when it is done") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


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


# --------------------------------------------------------------------------- querying

class Retriever:
    """A loaded index. Thread-safe for searching; picks up a newer generation by itself."""

    def __init__(self, index_dir: Path, db_url: str | None, on_stale: str, encoder: Encoder | None = None,
                 reranker=None):
        if on_stale not in ("warn", "fail", "ignore"):
            raise ValueError(f'on_stale must be "warn", "fail" or "ignore", not {on_stale!r}')
        self.index_dir = Path(index_dir)
        self.on_stale = on_stale
        self._db_url = db_url
        self._encoder = encoder
        self.reranker = load_reranker(reranker)
        self._lock = threading.RLock()
        self._checked_at = 0.0
        self._stale: str | None = None
        self._open()

    @classmethod
    def load(cls, index_dir: str | Path = DEFAULT_INDEX_DIR, db_url: str | None = None, on_stale: str = "warn",
             encoder: Encoder | None = None, reranker=None) -> "Retriever":
        """Open the index at `index_dir`. The KB at `db_url` (default: KB_DB_URL, else the URL the index
        was built from) is asked for its revision: a stale index warns, raises StaleIndexError or is
        ignored, as `on_stale` says. Searching needs only the index, not the KB.

        encoder: an Encoder object to use instead of loading the one the manifest names (same id).
        reranker: local cross-encoder folder (or an object with `score(question, texts)`) that rescores
            the fused top hits.
        """
        return cls(Path(index_dir), db_url, on_stale, encoder, reranker)

    # --- loading ---
    def _open(self) -> None:
        manifest = read_manifest(self.index_dir)
        if manifest is None:
            raise RetrieverError(f"no index at {self.index_dir}: run `retriever build` first")
        if manifest.get("format") != FORMAT:
            raise RetrieverError(f"{self.index_dir} has index format {manifest.get('format')}, this code reads "
                                 f"{FORMAT}: rebuild with `retriever build`")
        gen = self.index_dir / manifest["generation"]
        if not (gen / "passages.sqlite").exists():
            raise RetrieverError(f"{gen} is missing: rebuild with `retriever build`")
        self.manifest = manifest
        self.generation = manifest["generation"]
        self._manifest_mtime = (self.index_dir / "manifest.json").stat().st_mtime_ns
        self.store = PassageStore(gen / "passages.sqlite", readonly=True)
        self.tokenizer = Tokenizer.load(gen / "jieba.freq")
        self.linker = EntityLinker(self.store.entity_names())
        self.symptoms = SymptomIndex.from_store(self.store)
        self.bm25, self.bm25_rows = None, None
        if (gen / "bm25").exists():
            self.bm25 = bm25s.BM25.load(str(gen / "bm25"), mmap=False)
            self.bm25_rows = np.load(gen / "bm25" / "rows.npy")
        self.dense = DenseIndex.load(gen / "dense.faiss") if (gen / "dense.faiss").exists() else None
        self._check_stale(force=True)

    def refresh(self) -> bool:
        """Reopen if a build or update published a new generation; True when it did."""
        with self._lock:
            try:
                mtime = (self.index_dir / "manifest.json").stat().st_mtime_ns
            except FileNotFoundError:
                return False
            if mtime == self._manifest_mtime:
                return False
            manifest = read_manifest(self.index_dir)
            if manifest and manifest["generation"] == self.generation:
                self.manifest, self._manifest_mtime = manifest, mtime
                return False
            old = self.store
            self._open()
            old.close()
            return True

    @property
    def kb_revision(self) -> int:
        return int(self.manifest["kb_revision"])

    @property
    def encoder(self) -> Encoder:
        """The encoder the index was built with (loaded on first use; USE takes about a second)."""
        if self._encoder is None:
            self._encoder = load_encoder(self.manifest["encoder"])
        if self._encoder.id != self.manifest["encoder"]:
            raise RetrieverError(f"index was built with encoder {self.manifest['encoder']}, "
                                 f"not {self._encoder.id}; rebuild or pass the same encoder")
        return self._encoder

    def warm(self) -> "Retriever":
        """Load the encoder and run one query through every channel, so the first real question does
        not pay for start-up (USE takes about a second to load)."""
        if self.dense is not None:
            _ = self.encoder
        self.rank("感冒", CHANNELS)
        return self

    def db_url(self) -> str:
        return resolve_url(self._db_url or os.environ.get("KB_DB_URL") or self.manifest.get("db_url"))

    def _check_stale(self, force: bool = False) -> str | None:
        """A message when the KB has moved past the index's revision (None when current or ignored)."""
        if self.on_stale == "ignore":
            return None
        now = time.monotonic()
        if not force and now - self._checked_at < CHECK_EVERY_S:
            return self._stale
        self._checked_at = now
        url = self.db_url()
        try:
            with session_scope(url) as session:
                kb_rev = kb_revision(session)
        except DatabaseError as exc:
            self._stale = f"cannot check whether the index is current: {exc}"
        else:
            self._stale = None
            if kb_rev != self.kb_revision:
                self._stale = (f"index {self.index_dir} reflects KB revision {self.kb_revision} but the KB at "
                               f"{redact(url)} is at revision {kb_rev}: run `retriever update`")
        if self._stale and self.on_stale == "fail":
            raise StaleIndexError(self._stale)
        if self._stale and force:
            warnings.warn(self._stale, stacklevel=3)
            log.warning(self._stale)
        return self._stale

    # --- the parts of a search ---
    def link_entities(self, question: str) -> list[EntityMention]:
        return self.linker.link(question or "")

    def analyze(self, question: str) -> QueryAnalysis:
        """The one analysis of a message: topics, asked sections, findings, unknown names (see
        `retriever.analysis`). `search` and `rank` take it instead of the text, so a caller that
        analysed a message once never has it analysed again."""
        question = question if isinstance(question, str) else str(question or "")
        with self._lock:
            mentions = self.link_entities(question)
            # a short stem ("正气" of 正气片) must not hide a misspelt longer name ("霍香正气水")
            near = self.linker.near_misses(question, [m for m in mentions if not is_weak(m)])
            mentions = [m for m in mentions if not any(n.start < m.end and m.start < n.end for n in near)]
            corrected = tuple(dict.fromkeys((m.surface, m.entity_name) for m in near))
            mentions = sorted(mentions + near, key=lambda m: m.start)
            return analyze(question, mentions, self.symptoms, self.tokenizer.jieba.lcut, corrected)

    def passage(self, passage_id: str) -> Passage | None:
        with self._lock:
            return self.store.by_id(passage_id)

    def passages_of(self, entity_id: int, section: str | None = None) -> list[Passage]:
        with self._lock:
            return [p for _, p in self.store.of_entities([entity_id], section)]

    def rank_entity(self, mentions: list[EntityMention], intents: list[str], depth: int = DEPTH) -> list[tuple[int, float]]:
        """Passages of the linked entities: the asked sections first (in intent order), then the usual
        sections, earlier mentions and earlier chunks first. Score 1 for an asked section, 0.5 otherwise."""
        order = list(dict.fromkeys(m.entity_id for m in mentions))
        if not order:
            return []
        with self._lock:
            found = self.store.of_entities(order)
        position = {e: i for i, e in enumerate(order)}

        def key(item):
            row, p = item
            if p.section in intents:
                s = intents.index(p.section)
            elif p.section in SECTION_PRIORITY:
                s = len(intents) + SECTION_PRIORITY.index(p.section)
            else:
                s = len(intents) + len(SECTION_PRIORITY)
            return (p.chunk > 0, s, position[p.entity_id], p.chunk, row)

        ranked = sorted(found, key=key)[:depth]
        return [(row, 1.0 if p.section in intents else 0.5) for row, p in ranked]

    def rank_bm25(self, question: str, depth: int = DEPTH) -> list[tuple[int, float]]:
        if self.bm25 is None:
            return []
        tokens = list(dict.fromkeys(self.tokenizer.tokens(question[:MAX_BM25_CHARS])))
        ids = self.bm25.get_tokens_ids(tokens)
        if not ids:
            return []
        scores = self.bm25.get_scores_from_ids(ids)
        n = min(depth, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.bm25_rows[i]), float(scores[i])) for i in top if scores[i] > 0]

    def rank_dense(self, question: str, depth: int = DEPTH) -> list[tuple[int, float]]:
        if self.dense is None or not question.strip():
            return []
        query = self.encoder.encode([question[:MAX_QUERY_CHARS]])[0]
        return self.dense.search(query, depth)

    # --- search ---
    def search(self, question: str | QueryAnalysis, k: int = 5, channels: Sequence[str] = CHANNELS) -> RetrievalResult:
        """The k best passages for `question`: fused over `channels`, or one channel's own ranking when
        only one is given. Never raises on odd input: an empty question gives no hits and a warning."""
        if isinstance(channels, str):
            channels = (channels,)
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channel {unknown[0]!r}; channels are {', '.join(CHANNELS)}")
        self._maybe_refresh()
        result = self.rank(question, channels)
        result.hits = result.hits[:k] if k > 0 else []
        return result

    def rank(self, question: str | QueryAnalysis, channels: Sequence[str] = CHANNELS, depth: int = DEPTH,
             keep_rankings: bool = False) -> RetrievalResult:
        """Like `search` but returns every fused candidate; with `keep_rankings` the per-channel rankings
        are attached as `result.rankings` (what `retriever eval` and `debug` read)."""
        timings: dict[str, float] = {}
        warnings_: list[str] = []
        stale = self._check_stale()
        if stale:
            warnings_.append(stale)
        t = time.perf_counter()
        analysis = question if isinstance(question, QueryAnalysis) else self.analyze(question)
        question = analysis.question
        timings["analyze"] = _ms(t)
        intents, subjects, weights = list(analysis.intents), list(analysis.topics), None
        if analysis.kind in ("which_disease", "findings"):
            # The message describes the case ("发热、咳嗽"); what it names is not what is asked about: look
            # for diseases whose symptoms match, and let no named entity pull its own passages up. Dense
            # vectors are mostly name and section (see retriever.dense) and near useless on descriptions
            # (R@10 0.03), so BM25 leads here.
            intents, subjects, weights = ["症状"], [], REVERSE_WEIGHTS
        if not _WORDS.search(question):
            warnings_.append("the question has no words to search for" if question.strip() else
                             "empty question: nothing to search for")
            channels = ()
        rankings: dict[str, list[tuple[int, float]]] = {}
        for channel in channels:
            t = time.perf_counter()
            if channel == "entity":
                rankings[channel] = self.rank_entity(subjects, intents, depth)
            elif channel == "bm25":
                rankings[channel] = self.rank_bm25(question, depth)
            else:
                rankings[channel] = self.rank_dense(question, depth)
            timings[channel] = _ms(t)
        t = time.perf_counter()
        linked = {m.entity_id for m in subjects}
        if len(channels) <= 1:
            only = rankings[channels[0]] if channels else []
            ch = channels[0] if channels else "none"
            scored = [(row, score, {ch: rank}, {ch: score}, {})
                      for rank, (row, score) in enumerate(only, start=1)]
        else:
            rows = list({row for ranking in rankings.values() for row, _ in ranking})
            with self._lock:
                meta = self.store.row_meta(rows)
            scored = [(f.row, f.score, f.channel_ranks, f.channel_scores, f.boosts)
                      for f in fuse(rankings, meta, linked, intents, weights)]
        timings["fuse"] = _ms(t)
        t = time.perf_counter()
        with self._lock:
            passages = self.store.by_rows([row for row, *_ in scored])
        hits = [RetrievalHit(passages[row], score, rank, ranks, raw, boosts)
                for rank, (row, score, ranks, raw, boosts) in enumerate(
                    (s for s in scored if s[0] in passages), start=1)]
        timings["fetch"] = _ms(t)
        if self.reranker is not None and len(channels) > 1 and hits:
            t = time.perf_counter()
            hits = self._rerank(question, hits)
            timings["rerank"] = _ms(t)
        timings["total"] = round(sum(timings.values()), 3)
        if question.strip() and not hits:
            warnings_.append("no passage matches the question")
        result = RetrievalResult(question=question, hits=hits, entities=list(analysis.topics), intents=intents,
                                 timings_ms=timings, kb_revision=self.kb_revision, warnings=warnings_,
                                 analysis=analysis)
        if keep_rankings:
            result.rankings = rankings  # type: ignore[attr-defined]
        return result

    def _rerank(self, question: str, hits: list[RetrievalHit]) -> list[RetrievalHit]:
        head, tail = hits[:RERANK_DEPTH], hits[RERANK_DEPTH:]
        scores = self.reranker.score(question[:MAX_BM25_CHARS], [h.passage.text for h in head])
        for h, s in zip(head, scores):
            h.channel_scores["rerank"] = float(s)
        head.sort(key=lambda h: -h.channel_scores["rerank"])
        for rank, h in enumerate(head + tail, start=1):
            h.rank = rank
        return head + tail

    def _maybe_refresh(self) -> None:
        now = time.monotonic()
        if now - getattr(self, "_refreshed_at", 0.0) >= CHECK_EVERY_S:
            self._refreshed_at = now
            self.refresh()

    def stats(self) -> dict:
        """Counts by entity type, section and origin, with the manifest."""
        with self._lock:
            db = self.store.db
            return {
                "manifest": self.manifest,
                "passages": self.store.count(),
                "entities": db.execute("SELECT count(*) FROM entities").fetchone()[0],
                "by_type": dict(db.execute("SELECT entity_type, count(*) FROM passages GROUP BY 1 ORDER BY 2 DESC")),
                "by_origin": dict(db.execute("SELECT origin, count(*) FROM passages GROUP BY 1 ORDER BY 2 DESC")),
                "by_section": dict(db.execute(
                    "SELECT section, count(*) FROM passages GROUP BY 1 ORDER BY 2 DESC LIMIT 40")),
                "linker_keys": self.linker.size,
                "bm25_vocabulary": len(self.bm25.vocab_dict) if self.bm25 else 0,
                "dense_vectors": len(self.dense) if self.dense else 0,
                "size_bytes": dir_size(self.index_dir / self.generation),
                "kb_stale": self._check_stale(force=False),
            }

    def close(self) -> None:
        self.store.close()


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def _ms(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 3)


__all__ = ["Retriever", "build_index", "update_index", "update_after_ingest", "RetrieverError", "StaleIndexError",
           "DEFAULT_INDEX_DIR", "CHANNELS", "bm25_document", "dir_size"]
