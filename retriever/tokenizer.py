"""Chinese tokenisation for BM25: jieba's search mode, with the KB's names in its dictionary.

Search mode emits a long word and the dictionary words inside it ("小儿支气管肺炎" -> 小儿, 支气管,
肺炎, 支气管肺炎, 小儿支气管肺炎), so a question that names part of an entity still matches. KB
names go into the dictionary so that "阿莫西林克拉维酸钾" is one token, not four. Setting up that
dictionary means ~30k `add_word` calls, so a built index keeps jieba's frequency table (630k words and
prefixes on the full KB) in a SQLite file (`save`). A query process `open`s it and reads only the words its
questions touch (a few hundred a question): unmarshalling the whole table took a second of every cold start.
`read` loads all of it, for an update that adds words. jieba's own cache of its parsed dictionary (9 MB,
`CACHE_FILE`) lives in the index folder, not in $TMPDIR.
"""

from __future__ import annotations

import logging
import marshal
import os
import re
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

import jieba

from kb.names import to_halfwidth
from retriever.words import BM25_STOPWORDS

jieba.setLogLevel(logging.WARNING)

COMMON_FREQ = 2_000  # 喝酒 1,437, 生育 958, 空腹 90 stay content words; 经常 7,253, 一种 31,355 do not
NAME_FREQ = 50_000  # high enough that jieba keeps a KB name whole rather than splitting it
_KEEP = re.compile(r"[\w\u4e00-\u9fff]")
CACHE_FILE = "jieba.cache"


class Tokenizer:
    """jieba with extra words; `tokens(text)` gives the lower-cased, stopword-free search-mode tokens.

    cache_dir: where jieba keeps its parsed dictionary between runs (the index folder).
    """

    def __init__(self, words: Iterable[str] = (), *, cache_dir: Path):
        self.jieba = jieba.Tokenizer()
        # absolute: jieba joins the cache file to $TMPDIR, and a relative var/index became /tmp/var/index
        self.jieba.cache_file = str(Path(cache_dir).resolve() / CACHE_FILE)
        self.jieba.initialize()
        for word in words:
            self.add_word(word)

    def add_word(self, word: str) -> None:
        word = to_halfwidth(word).strip().lower()
        if len(word) >= 2 and " " not in word:
            self.jieba.add_word(word, NAME_FREQ)

    def tokens(self, text: str) -> list[str]:
        text = to_halfwidth(text).lower()
        return [t for t in self.jieba.cut_for_search(text) if t not in BM25_STOPWORDS and _KEEP.match(t)]

    def is_common(self, word: str) -> bool:
        """A word of everyday Chinese ("经常", "一种", "孩子": jieba frequency >= COMMON_FREQ) or a KB name:
        not what a question is specifically about (see `QueryAnalysis.focus`)."""
        return self.jieba.FREQ.get(word, 0) >= COMMON_FREQ

    FILE = "jieba.sqlite"  # in each index generation
    _LEGACY_FILE = "jieba.freq"  # marshal, written by earlier versions

    def save(self, folder: Path) -> None:
        """Write the frequency table to `folder`/jieba.sqlite (whole, or not at all)."""
        path, tmp = Path(folder) / self.FILE, Path(folder) / f".{self.FILE}.tmp"
        tmp.unlink(missing_ok=True)
        db = sqlite3.connect(tmp)
        db.execute("CREATE TABLE freq (word TEXT PRIMARY KEY, freq INTEGER NOT NULL) WITHOUT ROWID")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER)")
        db.executemany("INSERT INTO freq VALUES (?, ?)", self.jieba.FREQ.items())
        db.execute("INSERT INTO meta VALUES ('total', ?)", (self.jieba.total,))
        db.commit()
        db.close()
        os.replace(tmp, path)

    @classmethod
    def open(cls, folder: Path) -> "Tokenizer":
        """For searching: the table stays on disk and each word is read when a question first needs it."""
        folder = Path(folder)
        if not (folder / cls.FILE).exists():
            return cls.read(folder)
        table = FrequencyTable(folder / cls.FILE)
        return cls._with(table, table.total)

    @classmethod
    def read(cls, folder: Path) -> "Tokenizer":
        """The whole table in memory, to add words to (`retriever update`)."""
        folder = Path(folder)
        if (folder / cls.FILE).exists():
            db = sqlite3.connect(f"file:{folder / cls.FILE}?mode=ro", uri=True)
            freq = dict(db.execute("SELECT word, freq FROM freq"))
            total = db.execute("SELECT value FROM meta WHERE key='total'").fetchone()[0]
            db.close()
        else:
            with open(folder / cls._LEGACY_FILE, "rb") as f:
                freq, total = marshal.load(f)
        return cls._with(freq, total)

    @classmethod
    def _with(cls, freq, total: int) -> "Tokenizer":
        self = cls.__new__(cls)
        self.jieba = jieba.Tokenizer()
        self.jieba.FREQ, self.jieba.total = freq, total
        self.jieba.initialized = True
        return self


class FrequencyTable:
    """jieba's word -> frequency lookups (`get`, `in`, `[]`, all jieba's search needs) answered from SQLite,
    each word once and then from memory. Thread-safe; the memory is bounded for a long-running server."""

    MAX_CACHED = 500_000

    def __init__(self, path: Path):
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.total = self.db.execute("SELECT value FROM meta WHERE key='total'").fetchone()[0]
        self.cache: dict[str, int | None] = {}
        self.lock = threading.Lock()

    def get(self, word: str, default=None):
        try:
            found = self.cache[word]
        except KeyError:
            with self.lock:
                row = self.db.execute("SELECT freq FROM freq WHERE word=?", (word,)).fetchone()
                if len(self.cache) >= self.MAX_CACHED:
                    self.cache.clear()
                found = self.cache[word] = row[0] if row else None
        return default if found is None else found

    def __contains__(self, word: str) -> bool:
        return self.get(word) is not None

    def __getitem__(self, word: str) -> int:
        found = self.get(word)
        if found is None:
            raise KeyError(word)
        return found
