"""Dense retrieval: one vector per passage, composed from field embeddings, searched with FAISS.

Embedding every passage whole is out of reach on a 2-core CPU (300k passages, 22M characters: about
two hours with USE), and most of a passage's meaning for retrieval is *whose* it is and *which*
section it is. So a passage vector is a weighted sum of three embeddings:

    v = normalize(W_NAME * E(entity name) + W_SECTION * E(section phrase) + W_BODY * E(body))

where the section phrase is how people ask for that section ("不良反应 副作用 副反应"), and the body
is the mean of the item embeddings for list sections (symptom, drug and exam names are shared by
thousands of passages, so each is embedded once) or the embedding of the first `HEAD_CHARS`
characters for text. Later chunks of long text carry no body term; BM25 reaches their words. Since
every vector is unit length, q·v is a weighted sum of the question's cosine with each field.
All field embeddings go through the content-hash cache, so rebuilds and updates embed only new text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from retriever.encoders import EmbeddingCache, Encoder, embed, normalize_rows
from retriever.intent import section_cues

W_NAME, W_SECTION, W_BODY = 1.0, 0.8, 0.2
HEAD_CHARS = 24
MAX_ITEMS = 12
# List sections whose items say what the passage is about to someone who does not know the entity's
# name ("咳嗽、发热" -> which disease?). Items of other lists (成份 herbs, 规格, 贮藏 ...) are not worth
# their embedding time: the name and section terms carry those passages.
ITEM_SECTIONS = {
    "症状", "临床症状及体征", "相关症状", "适应症", "功效", "检查", "常用药物", "相关药物", "并发症", "病因",
    "不良反应", "禁忌", "治疗方式", "易感人群", "相关疾病", "注意事项", "药物相互作用", "就诊科室",
}
FLAT_LIMIT = 20_000  # below this many passages search is exact; above, an IVF index keeps queries ~1 ms
NPROBE = 24


@dataclass
class PassageFields:
    """What a passage vector is made of (read from the passage store)."""

    row: int
    entity_name: str
    section: str
    chunk: int
    body: str
    items: Sequence[str]


def body_texts(p: PassageFields) -> list[str]:
    """The texts whose embeddings make the body term: items of a list, or the opening of a text."""
    if p.items and all(len(i) <= 20 for i in p.items[:MAX_ITEMS]):
        return list(p.items[:MAX_ITEMS]) if p.section in ITEM_SECTIONS else []
    if p.chunk == 0 and p.body:
        return [p.body[:HEAD_CHARS]]
    return []


def compose_vectors(fields: list[PassageFields], encoder: Encoder, cache: EmbeddingCache | None,
                    progress: Callable[[int], None] | None = None, workers: int = 1,
                    on_total: Callable[[int], None] | None = None,
                    weights: tuple[float, float, float] = (W_NAME, W_SECTION, W_BODY)) -> np.ndarray:
    """(len(fields), dim) unit vectors, embedding each distinct name, cue, item and opening once."""
    w_name, w_section, w_body = weights
    names = [f.entity_name for f in fields]
    sections = {f.section: section_cues(f.section) for f in fields}
    bodies = [body_texts(f) for f in fields]
    texts = list(dict.fromkeys(names + [c for cues in sections.values() for c in cues] + [t for b in bodies for t in b]))
    if on_total:
        on_total(len(texts))
    vecs = embed(texts, encoder, cache, progress=progress, workers=workers)
    index = {t: i for i, t in enumerate(texts)}

    def mean_of(group: list[str]) -> np.ndarray:
        v = vecs[[index[t] for t in group]].mean(axis=0)
        return v / max(float(np.linalg.norm(v)), 1e-6)

    # A section is the centroid of the ways it is asked for ("能治什么", "主治", "适应症" ...).
    section_names = list(sections)
    section_mat = np.stack([mean_of(sections[s]) for s in section_names]) if sections else None
    section_ix = {s: i for i, s in enumerate(section_names)}
    out = np.empty((len(fields), encoder.dim), dtype=np.float32)
    for start in range(0, len(fields), 20_000):  # in slices: a 300k x 512 temporary is 600 MB
        part = fields[start : start + 20_000]
        rows = slice(start, start + len(part))
        out[rows] = w_name * vecs[[index[f.entity_name] for f in part]]
        out[rows] += w_section * section_mat[[section_ix[f.section] for f in part]]
        for i, body in enumerate(bodies[rows], start=start):
            if body:
                out[i] += w_body * mean_of(body)
        out[rows] = normalize_rows(out[rows])
    return out


class DenseIndex:
    """FAISS inner-product index over passage vectors, keyed by passage row (add / remove for updates)."""

    def __init__(self, index: faiss.Index):
        self.index = index
        self._tune()

    @classmethod
    def create(cls, vectors: np.ndarray, rows: np.ndarray) -> "DenseIndex":
        n, dim = vectors.shape
        if n < FLAT_LIMIT:
            index = faiss.index_factory(dim, "IDMap2,Flat", faiss.METRIC_INNER_PRODUCT)
        else:
            nlist = int(min(1024, max(64, np.sqrt(n))))
            index = faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
            sample = vectors[np.random.default_rng(0).permutation(n)[: nlist * 64]]
            index.train(sample)
        index.add_with_ids(vectors, rows.astype(np.int64))
        return cls(index)

    @property
    def kind(self) -> str:
        return "ivf-sq8" if isinstance(faiss.downcast_index(self.index), faiss.IndexIVF) else "flat"

    def _tune(self) -> None:
        ivf = faiss.try_extract_index_ivf(self.index) if hasattr(faiss, "try_extract_index_ivf") else None
        if ivf is not None:
            ivf.nprobe = NPROBE

    def __len__(self) -> int:
        return self.index.ntotal

    def add(self, vectors: np.ndarray, rows: np.ndarray) -> None:
        if len(rows):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), rows.astype(np.int64))

    def remove(self, rows: Sequence[int]) -> int:
        if not len(rows):
            return 0
        return int(self.index.remove_ids(np.asarray(rows, dtype=np.int64)))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top k (row, cosine). Single-threaded: OpenMP's thread start-up costs ~10 ms per query on a
        busy 2-core machine, far more than scanning the probed lists."""
        if faiss.omp_get_max_threads() != 1:
            faiss.omp_set_num_threads(1)
        if self.index.ntotal == 0:
            return []
        scores, ids = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32),
                                        min(k, self.index.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def save(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, mmap: bool = False) -> "DenseIndex":
        """mmap: map the vectors' file read-only instead of reading it (for searching: instant, and pages are
        shared between processes); an index to add to or remove from is read whole."""
        return cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0))
