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
from kb.models import Entity, Link, Section
from kb.names import normalize_name

P_LISTED = 0.7  # chance a patient with the disease reports a symptom the KB lists for it
P_UNLISTED = 0.02  # ... and one it does not list
MAX_QUESTIONS = 3
CONFIDENT = 0.6  # posterior of the leading disease at which no more questions are asked
MIN_GAIN = 0.05  # bits; below this a question is not worth the user's time
TOP_CANDIDATES = 15
PRIOR_WEIGHT = 0.5  # how much a disease's incidence (发病率) counts: common things are common, but symptoms decide
MAX_ASKED_CHARS = 6  # "初发性或维持性睡眠障碍失眠症" is a KB term, not a question to put to a patient
VAGUE = {"感染", "疼痛", "炎症", "发炎", "不适", "异常", "病变", "损伤", "症状", "疾病"}  # not worth asking about

QUESTION_MARK = "您是否有「"
_ASKED = re.compile(r"您是否有「([^」]+)」")
# Words for one symptom, the term shown first: KB lists and users say "发热" and "发烧" alike, so both
# are read as the first word of their group wherever they appear.
SYNONYMS = (
    ("发热", "发烧", "高烧", "高热"), ("低热", "低烧"), ("头痛", "头疼", "脑袋疼"), ("腹泻", "拉肚子", "拉稀", "闹肚子"),
    ("腹痛", "肚子疼", "肚子痛"), ("胃痛", "胃疼"), ("咽痛", "嗓子疼", "嗓子痛", "喉咙痛", "喉咙疼", "咽喉痛", "咽喉疼痛"),
    ("流涕", "流鼻涕", "流鼻水"), ("喷嚏", "打喷嚏"), ("恶心", "想吐", "反胃"), ("呕吐", "吐了", "还吐", "又吐", "老吐", "一直吐", "吐奶", "恶心与呕吐"),
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


# Words around a symptom description that are not symptoms ("我最近老是头疼，两天了，怎么办").
_FILLER = re.compile(
    r"([0-9一二两三四五六七八九十几半]+\s*(个)?(多)?(天|日|周|星期|月|年|小时|次)(了|多|左右)?|"
    r"我的|我|孩子|宝宝|小孩|儿子|女儿|老人|老公|老婆|妈妈|爸爸|我妈|我爸|家人|他|她|最近|这几天|近来|近期|老是|总是|经常|"
    r"一直|有点|有些|有时|偶尔|感觉|觉得|出现|开始|还有|还|也|又|和|跟|并且|而且|伴有|伴|了|的|很|特别|非常|比较|"
    r"晚上|早上|白天|夜里|今天|昨天|身体|浑身|全身|怎么办|怎么回事|是什么病|什么病|什么原因|吃什么药|要紧吗|严重吗|"
    r"需要|去医院|医院|看|挂|哪个科|什么科|请问|医生|有|没有|没|不|是|吗|呢|啊|呀|吧|得|就|都)")
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]")
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
    child: bool | None = None  # the patient is a child (True), an adult (False), or unknown
    sex: str | None = None

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

    def __init__(self, diseases: dict[int, str], symptoms: dict[int, set[str]],
                 incidence: dict[int, float] | None = None):
        self.diseases = diseases
        self.symptoms = symptoms
        # log prior from the KB's 发病率 where it gives one; the median for the rest; uniform when none does
        rates = {d: r for d, r in (incidence or {}).items() if d in diseases and r > 0}
        median = sorted(rates.values())[len(rates) // 2] if rates else 1.0
        self.log_prior = {d: PRIOR_WEIGHT * math.log(rates.get(d, median)) for d in diseases}
        self.frequency = Counter(s for ss in symptoms.values() for s in ss)
        self.vocabulary = sorted(
            {s for s in self.frequency if len(s) >= 2} | {w for w, c in CANONICAL.items() if c in self.frequency},
            key=len, reverse=True,
        )
        # In a big KB, a "symptom" listed for one or two diseases is often a stray word ("电影", "汽车").
        self.min_frequency = 3 if len(diseases) > 500 else 1
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
        incidence: dict[int, float] = {}
        with session_scope(db_url) as session:
            for disease_id, name, symptom in session.execute(stmt):
                diseases[disease_id] = name
                symptoms.setdefault(disease_id, set()).add(canonical(normalize_name(symptom)))
            rates = select(Section.entity_id, Section.text).where(Section.kind == "发病率")
            for disease_id, text in session.execute(rates):
                m = re.search(r"(\d+(?:\.\d+)?)\s*%", text or "")
                if m and disease_id not in incidence:
                    incidence[disease_id] = float(m.group(1)) / 100
        return cls(diseases, symptoms, incidence)

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
            if self.frequency.get(term, 0) < self.min_frequency:
                continue
            negated = _NEG_BEFORE.search(text[max(0, start - 3):start])
            (absent if negated else present).append(term)
        return list(dict.fromkeys(present)), list(dict.fromkeys(absent))

    def is_symptom(self, name: str) -> bool:
        return self.frequency.get(canonical(normalize_name(name)), 0) >= self.min_frequency

    def describes_symptoms(self, text: str, cues: re.Pattern | None = None) -> bool:
        """True when the text is (mostly) a symptom description: once its symptoms, filler words and
        asking words are taken out, little is left ("我发烧咳嗽两天了" yes; "体位性心动过速综合征怎么
        预防" no: it names a disease that merely contains a symptom)."""
        text = normalize_name(text) if text else ""
        present, absent = self.find(text)
        if not present and not absent:
            return False
        rest = text
        for surface, _ in self._matches(text):
            if self.frequency.get(canonical(surface), 0) >= self.min_frequency:
                rest = rest.replace(surface, " ")
        if cues is not None:
            rest = cues.sub(" ", rest)
        rest = _FILLER.sub(" ", rest)
        left = len(_HAN_RUN.findall(rest))
        said = sum(len(s) for s in present + absent)
        return left <= 2 or said / (said + left) >= 0.6

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
        """Diseases listing at least one present symptom and plausible for this patient, by posterior."""
        ids = {d for s in state.present for d in self.by_symptom.get(s, ()) if plausible(self.diseases[d], state)}
        if not ids:
            return []
        logp = {}
        for d in ids:
            listed = self.symptoms[d]
            lp = self.log_prior[d] + sum(math.log(P_LISTED if s in listed else P_UNLISTED) for s in state.present)
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
        known = set(state.present) | set(state.absent) | set(state.asked) | VAGUE
        options = Counter(s for c in candidates for s in self.symptoms[c.disease_id]
                          if s not in known and 2 <= len(s) <= MAX_ASKED_CHARS)
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


_CHILD_ONLY = re.compile(r"(小儿|儿童|婴儿|婴幼儿|新生儿|早产儿|幼儿|先天性)")
_ADULT_ONLY = re.compile(r"(成人|老年|妊娠|产后|产褥|经前|更年期|绝经|围绝经|孕|职业性)")
_FEMALE_ONLY = re.compile(r"(妇|经前|月经|痛经|闭经|妊娠|产后|产褥|子宫|宫颈|卵巢|阴道|外阴|输卵管|孕|乳腺|绝经|更年期)")
_MALE_ONLY = re.compile(r"(前列腺|睾丸|阴茎|精索|阴囊|男性不育|勃起)")


def plausible(disease: str, state: InquiryState) -> bool:
    """Whether a disease's name fits the patient: no 经前期综合征 for a child, no 前列腺炎 for a woman."""
    if state.child is True and _ADULT_ONLY.search(disease):
        return False
    if state.child is False and _CHILD_ONLY.search(disease) and "先天性" not in disease:
        return False
    if state.sex == "男" and _FEMALE_ONLY.search(disease):
        return False
    if state.sex == "女" and _MALE_ONLY.search(disease):
        return False
    return True


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


def read_state(index: SymptomIndex, messages: list[dict], cues: re.Pattern | None = None) -> InquiryState:
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
        if not pending and not state.present and not index.describes_symptoms(m["content"], cues):
            present, absent = [], []  # a question that merely contains a symptom word does not start an inquiry
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
