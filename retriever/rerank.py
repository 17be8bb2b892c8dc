"""Optional cross-encoder reranking of the fused top hits, with a model from a local folder.

Any cross-encoder that sentence-transformers loads works (bge-reranker-base, a Chinese MiniLM
fine-tuned on query-passage pairs, a plain sequence-classification folder, ...); it is never
downloaded. It rescores the first `depth` fused hits only, because a cross-encoder costs a
transformer pass per (question, passage) pair.
"""

from __future__ import annotations

from pathlib import Path

RERANK_DEPTH = 20


class CrossEncoderReranker:
    """sentence-transformers' `CrossEncoder` over a local folder (its own config decides max length and head)."""

    def __init__(self, path: str | Path, max_length: int | None = 320, batch_size: int = 16):
        path = Path(path).expanduser()
        if not path.is_dir():
            raise ValueError(f"reranker {path} is not a local model folder (models are never downloaded)")
        from sentence_transformers import CrossEncoder

        try:
            self.model = CrossEncoder(str(path), max_length=max_length, local_files_only=True, device="cpu")
        except (OSError, ValueError) as exc:
            raise ValueError(f"reranker {path}: cannot load a cross-encoder ({str(exc).splitlines()[0]})") from None
        self.id = f"cross-encoder:{path.name}"
        self.batch_size = batch_size

    def score(self, question: str, texts: list[str]) -> list[float]:
        """One relevance score per text (higher is more relevant; the positive class of a 2-label head)."""
        if not texts:
            return []
        scores = self.model.predict([(question, t) for t in texts], batch_size=self.batch_size,
                                    show_progress_bar=False)
        return [float(s) for s in (scores[:, -1] if scores.ndim == 2 else scores)]


def load_reranker(spec):
    """A reranker from a folder path, or an object that already has `score(question, texts)`."""
    if spec is None or hasattr(spec, "score"):
        return spec
    return CrossEncoderReranker(spec)
