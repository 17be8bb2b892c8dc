"""A LangChain retriever over the same index (needs the optional extra: pip install 'yiju[langchain]').

    from retriever.langchain_adapter import YijuRetriever
    lc = YijuRetriever.from_index("var/index", k=5)
    docs = lc.invoke("阿莫西林有什么副作用？")   # Documents: page_content = passage text, metadata = ids, source
"""

from __future__ import annotations

from typing import Any

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
except ImportError as exc:  # pragma: no cover - depends on the optional extra
    raise ImportError("the LangChain adapter needs langchain-core: pip install 'yiju[langchain]'") from exc

from retriever.search import CHANNELS, Retriever
from kb.settings import DEFAULT_INDEX_DIR


class YijuRetriever(BaseRetriever):
    """LangChain `BaseRetriever` whose documents are yiju passages, fused over the same channels."""

    retriever: Any  # a retriever.Retriever (typed loosely so pydantic does not try to validate it)
    k: int = 5
    channels: tuple[str, ...] = CHANNELS

    @classmethod
    def from_index(cls, index_dir: str = DEFAULT_INDEX_DIR, db_url: str | None = None, on_stale: str = "warn",
                   **kwargs) -> "YijuRetriever":
        return cls(retriever=Retriever.load(index_dir, db_url=db_url, on_stale=on_stale), **kwargs)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = self.retriever.search(query, k=self.k, channels=self.channels)
        return [
            Document(
                page_content=h.passage.text,
                metadata={
                    "passage_id": h.passage.id, "entity_id": h.passage.entity_id,
                    "entity_type": h.passage.entity_type, "entity_name": h.passage.entity_name,
                    "section": h.passage.section, "source": h.passage.source, "kb_revision": h.passage.kb_revision,
                    "score": h.score, "rank": h.rank, "channel_ranks": dict(h.channel_ranks),
                },
                id=h.passage.id,
            )
            for h in result.hits
        ]
