"""Search the retrieval index: `Retriever` over one generation of it.

    r = Retriever.load("var/index")
    analysis = r.analyze("我有慢性胃炎，胃苏颗粒能吃吗？")         # the one query analysis (read-only)
    result = r.search(analysis, k=5)                               # fused entity + BM25 + dense

Four channels share one passage store: entity linking (passages of the topics of the analysis, the
asked section first), BM25 over jieba tokens, dense vectors in FAISS, and their reciprocal-rank fusion
with boosts; the channels' weights follow what the message is (it names an entity, or it describes
findings). The findings index (`retriever.symptoms`) is read from the same generation, so it is
refreshed with it.
"""

from __future__ import annotations

import re
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

import bm25s
import numpy as np

from kb.db import DatabaseError, kb_id, kb_revision, redact, resolve_url, session_scope
from kb.settings import settings
from retriever.analysis import QueryAnalysis, analyze, is_weak
from retriever.dense import DenseIndex
from retriever.encoders import MAX_QUERY_CHARS, Encoder, load_encoder
from retriever.fusion import fuse
from retriever.hits import EntityMention, Passage, RetrievalHit, RetrievalResult
from retriever.linking import EntityLinker
from retriever.rerank import RERANK_DEPTH, load_reranker
from retriever.store import (FORMAT, ForeignIndexError, PassageStore, RetrieverError, StaleIndexError, foreign_index,
                             index_dir_setting, read_manifest)
from retriever.departments import DepartmentGuide, Direction
from retriever.symptoms import InquiryState, SymptomIndex
from retriever.tokenizer import Tokenizer


CHANNELS = ("entity", "bm25", "dense")
DEPTH = 50  # candidates per channel that go into fusion
REVERSE_WEIGHTS = {"bm25": 1.0, "dense": 0.02}  # descriptions: dense MRR@10 0.001-0.1 (`retriever eval`), a tie-breaker only
MAX_BM25_CHARS = 1000  # a 10k-character question is tokenised by its start
_WORDS = re.compile(r"[\w\u4e00-\u9fff]")  # \w covers CJK too; emoji and punctuation are not words
CHECK_EVERY_S = 2.0  # how often a long-lived Retriever looks for a new generation or a moved KB
# When the question names an entity but no section, the entity channel shows these first.
SECTION_PRIORITY = (
    "概述", "适应症", "症状", "用法用量", "不良反应", "禁忌", "注意事项", "常用药物", "检查", "治疗方式", "病因",
    "临床意义", "相关疾病", "正常值", "就诊科室", "并发症", "预防", "药物相互作用", "成份",
)


# A message longer than this is analysed and searched by its start: glue and negation checks compare each name
# with the others, so 10k characters of names cost seconds (chat cuts questions at 500; real ones are < 300).
MAX_ANALYSED_CHARS = 2000


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
        self._encoder_loading = self._load_encoder_meanwhile() if encoder is None and self.dense else None

    @classmethod
    def load(cls, index_dir: str | Path | None = None, db_url: str | None = None, on_stale: str = "warn",
             encoder: Encoder | None = None, reranker=None) -> "Retriever":
        """Open the index at `index_dir` (default: $YIJU_INDEX, else var/index). The KB at `db_url` (default: KB_DB_URL, else the URL the index
        was built from) is asked for its revision: a stale index warns, raises StaleIndexError or is
        ignored, as `on_stale` says. Searching needs only the index, not the KB.

        encoder: an Encoder object to use instead of loading the one the manifest names (same id).
        reranker: local cross-encoder folder (or an object with `score(question, texts)`) that rescores
            the fused top hits.
        """
        return cls(Path(index_dir or index_dir_setting()), db_url, on_stale, encoder, reranker)

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
        timings: dict[str, float] = {}  # where loading spends its time (bench/bench_cold_start.py prints it)
        t = time.perf_counter()
        self.store = PassageStore(gen / "passages.sqlite", readonly=True)
        self.licenses: dict[str, str] = self.store.meta("licenses", {})  # {passage.source: licence note}
        timings["passages"], t = _ms(t), time.perf_counter()
        self.tokenizer = Tokenizer.open(gen)
        timings["tokenizer"], t = _ms(t), time.perf_counter()
        self.linker = EntityLinker.open(gen, self.store.entity_names)
        timings["linker"], t = _ms(t), time.perf_counter()
        self.symptoms = SymptomIndex.open(gen, self.store)  # saved with the generation by build and update
        self._guide: DepartmentGuide | None = None  # read from this generation on first use
        timings["symptoms"], t = _ms(t), time.perf_counter()
        self.bm25, self.bm25_rows = None, None
        if (gen / "bm25").exists():
            self.bm25 = bm25s.BM25.load(str(gen / "bm25"), mmap=True)  # pages in what queries touch
            self.bm25_rows = np.load(gen / "bm25" / "rows.npy")
        timings["bm25"], t = _ms(t), time.perf_counter()
        self.dense = DenseIndex.load(gen / "dense.faiss", mmap=True) if (gen / "dense.faiss").exists() else None
        timings["dense"], t = _ms(t), time.perf_counter()
        self.load_ms = timings
        self._check_stale(force=True)
        timings["kb_check"] = _ms(t)

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
            t = time.perf_counter()
            loading = self._encoder_loading
            self._encoder = loading.result() if loading else load_encoder(self.manifest["encoder"])
            self.load_ms["encoder_wait"] = _ms(t)
        if self._encoder.id != self.manifest["encoder"]:
            raise RetrieverError(f"index was built with encoder {self.manifest['encoder']}, "
                                 f"not {self._encoder.id}; rebuild or pass the same encoder")
        return self._encoder

    def _load_encoder_meanwhile(self) -> Future:
        """Start loading the query encoder in the background: the caller reads the question, links it and
        ranks BM25 meanwhile (much of USE's loading is file reading and array copies, which free the GIL)."""
        loading: Future = Future()

        def run():
            try:
                loading.set_result(load_encoder(self.manifest["encoder"]))
            except BaseException as exc:  # raised where the encoder is first needed, as before
                loading.set_exception(exc)

        # not a daemon: a process that ends while the encoder is still loading waits for it (exiting in the
        # middle of the native loading code aborts the interpreter)
        threading.Thread(target=run, name="encoder-load", daemon=False).start()
        return loading

    def warm(self) -> "Retriever":
        """Load the encoder and run one query through every channel, so the first real question does
        not pay for start-up (USE takes about a second to load)."""
        if self.dense is not None:
            _ = self.encoder
        self.rank("感冒", CHANNELS)
        return self

    def db_url(self) -> str:
        return resolve_url(self._db_url or settings().db_url or self.manifest.get("db_url"))

    def stale(self) -> str | None:
        """Why this index may not reflect the KB (None when it does): for health checks and answers."""
        return self._check_stale()

    def _check_stale(self, force: bool = False) -> str | None:
        """A message when the index was built from another KB, or the KB has moved past the index's
        revision (None when current or ignored)."""
        if self.on_stale == "ignore":
            return None
        now = time.monotonic()
        if not force and now - self._checked_at < CHECK_EVERY_S:
            return self._stale
        self._checked_at = now
        url = self.db_url()
        foreign = None
        try:
            with session_scope(url) as session:
                kb_rev = kb_revision(session)
                foreign = foreign_index(self.manifest, kb_id(session), self.index_dir, redact(url))
        except DatabaseError as exc:
            self._stale = f"cannot check whether the index is current: {exc}"
        else:
            self._stale = foreign
            if not foreign and kb_rev != self.kb_revision:
                self._stale = (f"index {self.index_dir} reflects KB revision {self.kb_revision} but the KB at "
                               f"{redact(url)} is at revision {kb_rev}: run `retriever update`")
        if self._stale and self.on_stale == "fail":
            raise (ForeignIndexError if foreign else StaleIndexError)(self._stale)
        if self._stale and force:
            warnings.warn(self._stale, stacklevel=3)  # the CLIs print it once, as "warning: …"
        return self._stale

    # --- the parts of a search ---
    def link_entities(self, question: str) -> list[EntityMention]:
        return self.linker.link(question or "")

    def analyze(self, question: str) -> QueryAnalysis:
        """The one analysis of a message: topics, asked sections, findings, unknown names (see
        `retriever.analysis`). `search` and `rank` take it instead of the text, so a caller that
        analysed a message once never has it analysed again."""
        question = (question if isinstance(question, str) else str(question or ""))[:MAX_ANALYSED_CHARS]
        with self._lock:
            mentions = self.link_entities(question)
            mentions += self._siblings(mentions)
            # a short stem ("正气" of 正气片) must not hide a misspelt longer name ("霍香正气水")
            near = self.linker.near_misses(question, [m for m in mentions if not is_weak(m)])
            mentions = [m for m in mentions if not any(n.start < m.end and m.start < n.end for n in near)]
            corrected = tuple(dict.fromkeys((m.surface, m.entity_name) for m in near))
            mentions = sorted(mentions + near, key=lambda m: m.start)
            return analyze(question, mentions, self.symptoms, self.tokenizer.jieba.lcut, corrected,
                           common=self.tokenizer.is_common)

    def _siblings(self, mentions: list[EntityMention]) -> list[EntityMention]:
        """Entries of the same disease under the other usual name ("癫痫病" and "癫痫" come from two sources),
        as more candidates of the same mention: the one that has the asked section answers."""
        out, have = [], {(m.start, m.entity_id) for m in mentions}
        for m in mentions:
            if m.entity_type != "disease" or len(m.entity_name) < 2:
                continue
            other = m.entity_name[:-1] if m.entity_name.endswith(("病", "症")) and len(m.entity_name) >= 3 \
                else m.entity_name + "病"
            for entity_id, entity_type, name in self.linker.named(other):
                if entity_type == "disease" and (m.start, entity_id) not in have:
                    have.add((m.start, entity_id))
                    out.append(EntityMention(m.surface, m.start, m.end, entity_id, entity_type, name))
        return out

    def passage(self, passage_id: str) -> Passage | None:
        with self._lock:
            return self.store.by_id(passage_id)

    def direction(self, text: str, state: InquiryState) -> Direction | None:
        """Where to go first for what `text` describes, as the KB's entries say (`retriever.departments`)."""
        with self._lock:
            if self._guide is None:
                self._guide = DepartmentGuide.from_store(self.store, self.symptoms)
            return self._guide.direction(text, state)

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
                                 analysis=analysis, stale=stale)
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
