"""The KB as passages, indexed for hybrid retrieval: entity names, BM25 and dense vectors, fused.

    from retriever import Retriever, build_index, update_index
    build_index("sqlite:///var/kb.sqlite", "var/index")
    r = Retriever.load("var/index")
    result = r.search("阿莫西林有什么副作用？", k=5)   # RetrievalResult with cited passages

Nothing here imports a CLI module; `retriever.cli` is the `retriever` command.
"""

from retriever.hits import EntityMention, Passage, RetrievalHit, RetrievalResult
from retriever.index import build_index, update_after_ingest, update_index
from retriever.search import CHANNELS, Retriever
from kb.settings import DEFAULT_INDEX_DIR
from retriever.store import ForeignIndexError, RetrieverError, StaleIndexError

__all__ = [
    "Retriever", "build_index", "update_index", "update_after_ingest", "RetrieverError", "StaleIndexError",
    "ForeignIndexError",
    "Passage", "EntityMention", "RetrievalHit", "RetrievalResult", "CHANNELS", "DEFAULT_INDEX_DIR",
]
