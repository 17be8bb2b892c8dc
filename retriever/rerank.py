"""Optional cross-encoder reranking of the fused top hits, with a model from a local folder.

Any sequence-classification cross-encoder works (bge-reranker-base, a Chinese MiniLM fine-tuned on
query-passage pairs, ...); it is never downloaded. It rescores the first `depth` fused hits only,
because a cross-encoder costs a transformer pass per (question, passage) pair.
"""

from __future__ import annotations

from pathlib import Path

RERANK_DEPTH = 20


class CrossEncoderReranker:
    def __init__(self, path: str | Path, max_length: int = 320, batch_size: int = 16):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path).expanduser()
        if not path.is_dir():
            raise ValueError(f"reranker {path} is not a local model folder (models are never downloaded)")
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True).eval()
        self.id = f"cross-encoder:{path.name}"
        self.max_length, self.batch_size = max_length, batch_size

    def score(self, question: str, texts: list[str]) -> list[float]:
        """One relevance score per text (the positive logit; higher is more relevant)."""
        scores: list[float] = []
        with self.torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                batch = texts[i : i + self.batch_size]
                enc = self.tokenizer([question] * len(batch), batch, padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt")
                logits = self.model(**enc).logits.float()
                scores += (logits[:, -1] if logits.shape[-1] > 1 else logits[:, 0]).tolist()
        return scores


def load_reranker(spec):
    """A reranker from a folder path, or an object that already has `score(question, texts)`."""
    if spec is None or hasattr(spec, "score"):
        return spec
    return CrossEncoderReranker(spec)
