"""Ask before advising: a symptom description is narrowed down with questions, grounded in the KB.

Diseases are ranked by the symptoms the KB lists for them (a naive-Bayes posterior: a listed symptom
is likely present, an unlisted one unlikely). While no disease stands out, the next question is the
symptom with the highest information gain over the leading candidates, asked as
"您是否有「咳嗽」？". After a few questions, or once one disease is likely enough, the answer lists
possible conditions (never a diagnosis) with the department to visit and the usual exams, every
line cited from the KB.

The state of an inquiry is read back from the conversation itself (what was said, which symptom the
last question asked about), so the CLI, the UI and the stateless HTTP API share one code path.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import aliased

from kb.db import session_scope
from kb.models import Entity, Link
from kb.names import normalize_name

P_LISTED = 0.7  # chance a patient with the disease reports a symptom the KB lists for it
P_UNLISTED = 0.02  # ... and one it does not list
MAX_QUESTIONS = 3
CONFIDENT = 0.6  # posterior of the leading disease at which no more questions are asked
MIN_GAIN = 0.05  # bits; below this a question is not worth the user's time
TOP_CANDIDATES = 15

QUESTION_MARK = "您是否有「"
_ASKED = re.compile(r"您是否有「([^」]+)」")
# Words for one symptom, the term shown first: KB lists and users say "发热" and "发烧" alike, so both
# are read as the first word of their group wherever they appear.
SYNONYMS = (
    ("发热", "发烧", "高烧", "高热"), ("低热", "低烧"), ("头痛", "头疼", "脑袋疼"), ("腹泻", "拉肚子", "拉稀", "闹肚子"),
    ("腹痛", "肚子疼", "肚子痛"), ("胃痛", "胃疼"), ("咽痛", "嗓子疼", "嗓子痛", "喉咙痛", "喉咙疼", "咽喉痛", "咽喉疼痛"),
    ("流涕", "流鼻涕", "流鼻水"), ("喷嚏", "打喷嚏"), ("恶心", "想吐", "反胃"), ("呕吐", "吐了", "恶心与呕吐"),
    ("食欲不振", "没胃口", "不想吃饭", "吃不下饭", "食欲减退"), ("失眠", "睡不着"), ("心悸", "心慌"),
    ("呼吸困难", "喘不上气", "喘不过气"), ("乏力", "浑身没劲", "没力气", "没劲", "疲乏", "无力"),
    ("全身酸痛", "浑身疼", "浑身酸痛", "肌肉酸痛"), ("咳痰", "有痰"), ("皮疹", "起疹子", "出疹子"), ("瘙痒", "发痒", "很痒"),
    ("胸痛", "胸口疼", "胸口痛"), ("关节痛", "关节疼"), ("腰痛", "腰疼"), ("多饮", "喝水多"), ("多尿", "尿多"),
    ("体重下降", "瘦了", "变瘦", "消瘦", "体重减轻"), ("尿痛", "小便疼", "尿尿疼"), ("尿频", "老想尿"),
    ("鼻塞", "鼻子堵"), ("头晕", "头昏"), ("咳嗽", "干咳"), ("发绀", "紫绀"), ("气短", "气急"),
)
CANONICAL = {word: group[0] for group in SYNONYMS for word in group}


def canonical(term: str) -> str:
    return CANONICAL.get(term, term)


_NEG_BEFORE = re.compile(r"(没有|没|不|无|未|否认|也没)[^，。,；;]{0,1}$")
_YES = re.compile(r"^\s*(有|是|是的|对|嗯|有的|有点|有一点|会|偶尔有|经常|好像有|yes|y)\b|^\s*(有|是|对|嗯)")
_NO = re.compile(r"^\s*(没有|没|无|不|否|不是|没感觉|no|n)\b|^\s*(没|无|不)")


@dataclass
class Candidate:
    disease_id: int
    name: str
    posterior: float
    matched: list[str]  # present symptoms the KB lists for it


@dataclass
class InquiryState:
    present: list[str] = field(default_factory=list)  # KB symptom terms the user has
    absent: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # symptoms we asked about, in order
    pending: str | None = None  # the symptom the last assistant message asked about

    @property
    def active(self) -> bool:
        return bool(self.present)


@dataclass
class Step:
    """What the inquiry does next: ask `question` about `symptom`, or finish with `candidates`."""

    candidates: list[Candidate]
    symptom: str | None = None
    gain: float = 0.0
    done: bool = False
    reason: str = ""


class SymptomIndex:
    """Which symptoms the KB lists for which disease, and the vocabulary to spot them in text."""

    def __init__(self, diseases: dict[int, str], symptoms: dict[int, set[str]]):
        self.diseases = diseases
        self.symptoms = symptoms
        self.frequency = Counter(s for ss in symptoms.values() for s in ss)
        self.vocabulary = sorted(
            {s for s in self.frequency if len(s) >= 2} | {w for w, c in CANONICAL.items() if c in self.frequency},
            key=len, reverse=True,
        )
        self.by_symptom: dict[str, list[int]] = {}
        for disease_id, ss in symptoms.items():
            for s in ss:
                self.by_symptom.setdefault(s, []).append(disease_id)
        self._automaton = None

    @classmethod
    def load(cls, db_url: str | None = None) -> "SymptomIndex":
        target = aliased(Entity)
        stmt = (select(Entity.id, Entity.name, target.name)
                .join(Link, Link.from_id == Entity.id)
                .join(target, target.id == Link.target_id)
                .where(Entity.type == "disease", Link.relation == "disease_symptom"))
        diseases: dict[int, str] = {}
        symptoms: dict[int, set[str]] = {}
        with session_scope(db_url) as session:
            for disease_id, name, symptom in session.execute(stmt):
                diseases[disease_id] = name
                symptoms.setdefault(disease_id, set()).add(canonical(normalize_name(symptom)))
        return cls(diseases, symptoms)

    def find(self, text: str) -> tuple[list[str], list[str]]:
        """KB symptom terms said to be present and said to be absent in `text`, longest match first."""
        text = normalize_name(text) if text else ""
        taken = [False] * len(text)
        present, absent = [], []
        for surface, start in self._matches(text):
            end = start + len(surface)
            if any(taken[start:end]):
                continue
            for i in range(start, end):
                taken[i] = True
            term = canonical(surface)
            if term not in self.frequency:
                continue
            negated = _NEG_BEFORE.search(text[max(0, start - 3):start])
            (absent if negated else present).append(term)
        return list(dict.fromkeys(present)), list(dict.fromkeys(absent))

    def _matches(self, text: str) -> list[tuple[str, int]]:
        found = []
        if self._automaton is None:
            self._automaton = _automaton(self.vocabulary)
        for end, surface in self._automaton.iter(text) if self._automaton else []:
            found.append((surface, end - len(surface) + 1))
        if not self._automaton:
            found = [(s, m.start()) for s in self.vocabulary for m in re.finditer(re.escape(s), text)]
        found.sort(key=lambda x: (-len(x[0]), x[1]))
        return found

    def rank(self, state: InquiryState) -> list[Candidate]:
        """Diseases listing at least one present symptom, by posterior (uniform prior over them)."""
        ids = {d for s in state.present for d in self.by_symptom.get(s, ())}
        if not ids:
            return []
        logp = {}
        for d in ids:
            listed = self.symptoms[d]
            lp = sum(math.log(P_LISTED if s in listed else P_UNLISTED) for s in state.present)
            lp += sum(math.log(1 - P_LISTED if s in listed else 1 - P_UNLISTED) for s in state.absent)
            logp[d] = lp
        top = max(logp.values())
        weights = {d: math.exp(lp - top) for d, lp in logp.items()}
        total = sum(weights.values())
        ranked = sorted(weights, key=lambda d: (-weights[d], self.diseases[d]))
        return [Candidate(d, self.diseases[d], weights[d] / total,
                          [s for s in state.present if s in self.symptoms[d]]) for d in ranked]

    def next_step(self, state: InquiryState, max_questions: int = MAX_QUESTIONS) -> Step:
        candidates = self.rank(state)
        if not candidates:
            return Step([], done=True, reason="no KB disease lists these symptoms")
        if candidates[0].posterior >= CONFIDENT:
            return Step(candidates, done=True, reason=f"{candidates[0].name} is likely enough")
        if len(state.asked) >= max_questions:
            return Step(candidates, done=True, reason=f"asked {len(state.asked)} questions")
        symptom, gain = self.best_question(candidates[:TOP_CANDIDATES], state)
        if symptom is None or gain < MIN_GAIN:
            return Step(candidates, done=True, reason="no question would tell the candidates apart")
        return Step(candidates, symptom=symptom, gain=gain)

    def best_question(self, candidates: list[Candidate], state: InquiryState) -> tuple[str | None, float]:
        """The unasked symptom whose answer is expected to reduce the entropy over candidates most."""
        total = sum(c.posterior for c in candidates)
        p = {c.disease_id: c.posterior / total for c in candidates}
        known = set(state.present) | set(state.absent) | set(state.asked)
        options = Counter(s for c in candidates for s in self.symptoms[c.disease_id] if s not in known)
        h0 = _entropy(p.values())
        best, best_gain = None, 0.0
        for symptom in sorted(options, key=lambda s: (-options[s], s)):
            yes = {d: q * (P_LISTED if symptom in self.symptoms[d] else P_UNLISTED) for d, q in p.items()}
            p_yes = sum(yes.values())
            no = {d: q - yes[d] for d, q in p.items()}
            p_no = 1 - p_yes
            h = p_yes * _entropy(_normalised(yes)) + p_no * _entropy(_normalised(no))
            if h0 - h > best_gain + 1e-9:
                best, best_gain = symptom, h0 - h
        return best, best_gain


def _automaton(words: list[str]):
    try:
        import ahocorasick
    except ImportError:
        return None
    a = ahocorasick.Automaton()
    for w in words:
        a.add_word(w, w)
    if words:
        a.make_automaton()
        return a
    return None


def _entropy(ps) -> float:
    return -sum(q * math.log2(q) for q in ps if q > 0)


def _normalised(weights: dict) -> list[float]:
    total = sum(weights.values())
    return [w / total for w in weights.values()] if total > 0 else []


def asked_symptom(assistant_text: str) -> str | None:
    m = _ASKED.search(assistant_text or "")
    return m.group(1) if m else None


def is_answer(text: str) -> bool | None:
    """True for "有"/"是", False for "没有"/"不", None when the reply is neither."""
    text = (text or "").strip()
    if _NO.search(text):
        return False
    if _YES.search(text):
        return True
    return None


def read_state(index: SymptomIndex, messages: list[dict]) -> InquiryState:
    """The inquiry in progress at the end of `messages` (OpenAI-style dicts, the new user turn last).

    An inquiry is the run of turns since the user first described symptoms, as long as every assistant
    message in between asked an inquiry question; anything else starts afresh."""
    start = 0
    for i, m in enumerate(messages):
        if m["role"] == "assistant" and not asked_symptom(m["content"]):
            start = i + 1
    state = InquiryState()
    pending = None
    for m in messages[start:]:
        if m["role"] == "assistant":
            pending = asked_symptom(m["content"])
            if pending:
                state.asked.append(pending)
            continue
        if m["role"] != "user":
            continue
        present, absent = index.find(m["content"])
        if pending:
            reply = is_answer(m["content"])
            if reply is True and pending not in present:
                present.insert(0, pending)
            elif reply is False and pending not in present:
                absent.insert(0, pending)
        for s in present:
            if s not in state.present:
                state.present.append(s)
            if s in state.absent:
                state.absent.remove(s)
        for s in absent:
            if s not in state.absent and s not in state.present:
                state.absent.append(s)
        pending = None
    state.pending = pending
    return state


def question_text(symptom: str, number: int, limit: int = MAX_QUESTIONS) -> str:
    return (f"为了给出更有依据的建议，想先确认一下（第 {number}/{limit} 问）：{QUESTION_MARK}{symptom}」？"
            "请回答“有”或“没有”，也可以补充其他症状。")
