"""What the answer pipeline returns: the answer text, its citations and how it was reached.

`Answer.to_json()` is the document `chat ask --json` prints and `chat serve` attaches to its responses,
so its keys are a contract: answer, citations (n, passage id, entity, section, source, licence, KB revision),
refused, triage, generator, timings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from retriever.hits import Passage

# The KB's silence, said the same way by the pipeline and by the tuned model (finetune trains on this text).
REFUSAL = "知识库中没有能回答这个问题的内容，我不凭猜测回答。"
DISCLAIMER = "以上内容来自知识库，仅供参考，不能替代医生的诊断和治疗；如有不适请及时就医。"
# For answers that quote nothing from the KB (a refusal, an emergency or crisis notice).
SHORT_DISCLAIMER = "本回答仅供参考，不能替代医生的诊断和治疗；如有不适请及时就医。"


@dataclass(frozen=True)
class Citation:
    """Passage [n] of an answer, with what a reader needs to find it again."""

    n: int
    passage_id: str
    entity: str
    entity_type: str
    section: str
    source: str
    kb_revision: int
    text: str
    license: str | None = None  # the source's licence note as ingested ("demo data, NOT for clinical use")

    @classmethod
    def of(cls, n: int, passage: Passage, license: str | None = None) -> "Citation":
        return cls(n, passage.id, passage.entity_name, passage.entity_type, passage.section,
                   passage.source, passage.kb_revision, passage.text, license)

    def label(self) -> str:
        return f"[{self.n}] {self.entity} · {self.section}（{self.source}）"


@dataclass
class Generation:
    """What the generator was given and what the answer kept of it, for training data (`finetune data
    --real`); never shown, logged or serialised."""

    retrieved: list[Passage]  # the retriever's hits, best first
    question: str = ""  # as the generator was asked (the analysed question); "" when nothing was generated
    passages: list[Passage] = field(default_factory=list)  # numbered [1].. for the generator
    patient: str = ""  # the request's patient summary
    claims: list = field(default_factory=list)  # the verified claims of the body (chat.citations.Claim)


@dataclass
class Answer:
    question: str
    text: str  # the whole answer as shown: triage notice, body with [n], notes, disclaimer
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    triage: str | None = None  # "emergency" | "crisis" | None
    generator: str = "extractive"
    kb_revision: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    rewritten: str | None = None  # the question as retrieved, when the conversation changed it
    intents: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    # "qa" | "inquiry" (asked a question back) | "diagnosis" (inquiry finished) | "triage" | "scope" | "language" |
    # "guidance" (the concern answered without KB facts to cite: what decides it, where to go first)
    mode: str = "qa"
    removed_claims: list[str] = field(default_factory=list)  # generated sentences verification dropped
    safety_flags: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    debug: dict = field(default_factory=dict)  # retrieval hits and support scores, for the UI's debug tab
    log_id: int | None = None
    generation: Generation | None = field(default=None, repr=False, compare=False)  # see Generation

    @property
    def cited_passage_ids(self) -> list[str]:
        return [c.passage_id for c in self.citations]

    def to_json(self, debug: bool = False) -> dict:
        data = {
            "question": self.question,
            "answer": self.text,
            "citations": [
                {k: v for k, v in asdict(c).items() if k != "text"} | {"passage_text": c.text}
                for c in self.citations
            ],
            "refused": self.refused,
            "triage": self.triage,
            "generator": self.generator,
            "kb_revision": self.kb_revision,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "rewritten": self.rewritten,
            "intents": self.intents,
            "entities": self.entities,
            "mode": self.mode,
            "removed_claims": self.removed_claims,
            "safety_flags": self.safety_flags,
            "warnings": self.warnings,
            "log_id": self.log_id,
        }
        if debug:
            data["debug"] = self.debug
        return data
