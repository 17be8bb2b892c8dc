"""Chinese tokenisation for BM25: jieba's search mode, with the KB's names in its dictionary.

Search mode emits a long word and the dictionary words inside it ("小儿支气管肺炎" -> 小儿, 支气管,
肺炎, 支气管肺炎, 小儿支气管肺炎), so a question that names part of an entity still matches. KB
names go into the dictionary so that "阿莫西林克拉维酸钾" is one token, not four. Setting up that
dictionary means ~30k `add_word` calls, so a built index keeps jieba's frequency table in a file
(`save` / `load`) and a query process loads it in well under a second.
"""

from __future__ import annotations

import logging
import marshal
import re
from collections.abc import Iterable
from pathlib import Path

import jieba

from kb.names import to_halfwidth
from retriever.words import BM25_STOPWORDS

jieba.setLogLevel(logging.WARNING)

COMMON_FREQ = 2_000  # 喝酒 1,437, 生育 958, 空腹 90 stay content words; 经常 7,253, 一种 31,355 do not
NAME_FREQ = 50_000  # high enough that jieba keeps a KB name whole rather than splitting it
_KEEP = re.compile(r"[\w\u4e00-\u9fff]")


class Tokenizer:
    """jieba with extra words; `tokens(text)` gives the lower-cased, stopword-free search-mode tokens."""

    def __init__(self, words: Iterable[str] = ()):
        self.jieba = jieba.Tokenizer()
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

    def save(self, path: Path) -> None:
        with open(path, "wb") as f:
            marshal.dump((self.jieba.FREQ, self.jieba.total), f)

    @classmethod
    def load(cls, path: Path) -> "Tokenizer":
        self = cls.__new__(cls)
        self.jieba = jieba.Tokenizer()
        with open(path, "rb") as f:
            self.jieba.FREQ, self.jieba.total = marshal.load(f)
        self.jieba.initialized = True
        return self
