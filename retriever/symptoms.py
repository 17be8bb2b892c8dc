"""Findings: the symptoms a message reports or denies, and the KB diseases that list them.

The index is part of the retrieval index: it is read from the passage store (the items of each
disease's 症状 passages, and 发病率 for a prior), so it carries the KB revision of the index and is
refreshed whenever the index is (`Retriever.refresh`), never built from the KB on its own.

Diseases are ranked by the findings with a naive-Bayes posterior: a symptom the KB lists for a disease
is likely to be reported by someone who has it, an unlisted one unlikely; a disease implausible for
the patient (经前期综合征 for a child, 前列腺炎 for a woman) is left out. `best_question` is the
unasked symptom whose answer would tell the leading candidates apart best (information gain).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick

from kb.debris import PAGE_WORDS
from kb.names import normalize_name
from retriever.words import ASKING_BEFORE, denial_alternation, is_body_site

P_LISTED = 0.7  # chance a patient with the disease reports a symptom the KB lists for it
P_UNLISTED = 0.02  # ... and one it does not list
MAX_QUESTIONS = 3
CONFIDENT = 0.6  # posterior of the leading disease at which no more questions are asked
MIN_GAIN = 0.05  # bits; below this a question is not worth the user's time
TOP_CANDIDATES = 15
PRIOR_WEIGHT = 0.5  # how much a disease's incidence (发病率) counts: common things are common, but symptoms decide
# A condition is named only on specific evidence: each present finding weighs the bits it carries across the
# KB (log2 of diseases / diseases listing it), generic ones (疼痛, 乏力: listed by a large share) nothing.
# The leading candidate must reach MIN_EVIDENCE bits from at least MIN_FINDINGS specific findings it lists:
# about two ordinary findings (腹泻 + 腹痛); never one word, however rare (a crawled list's rare strings are
# mostly phrases: "全身无力", "大腿内侧"), and never a generic one. In a small KB (the demo's 46 diseases, where a finding
# carries at most log2(46) = 5.5 bits) the bar is EVIDENCE_SHARE of that most.
MIN_EVIDENCE = 7.0
MIN_FINDINGS = 2
EVIDENCE_SHARE = 0.8
GENERIC_SHARE = 0.05  # a finding listed by more than this share of the KB's diseases carries no weight
MAX_ASKED_CHARS = 6  # "初发性或维持性睡眠障碍失眠症" is a KB term, not a question to put to a patient
SYMPTOMS_FILE = "symptoms.pickle"  # in each index generation, beside passages.sqlite
_LEGACY_FILE = "symptoms.json"  # written by earlier versions
VAGUE = {"感染", "疼痛", "炎症", "发炎", "不适", "异常", "病变", "损伤", "症状", "疾病"}  # not worth asking about
# A finding that says only what a feeling is like, not where or what ("刺痛", "胀痛", "酸胀", "麻木"): few entries list
# "刺痛" as such (6 bits in the full KB), but it places nothing, so it weighs nothing (urination pain had led to 电脑病).
QUALITY_ONLY = re.compile(r"(刺|胀|隐|钝|绞|酸|灼|跳|剧|阵|针扎样|烧灼样?|撕裂样?)?(痛|疼)|疼痛|酸胀|麻木|乏力")


def is_symptom_item(item: str) -> bool:
    """False for crawl debris in a symptom list: a truncated item ("腓肠肌强直收缩..."), a word of the page
    (`kb.debris.PAGE_WORDS`, never read as a finding nor shown in a symptom list), or a
    part of the body said alone ("皮肤", "白带": where, not what)."""
    item = item.strip()
    return bool(item) and not item.endswith(("...", "…")) and item not in PAGE_WORDS and not is_body_site(item)

# Words for one symptom, the term shown first: KB lists and users say "发热" and "发烧" alike, so both
# are read as the first word of their group wherever they appear.
SYNONYMS = (
    ("发热", "发烧", "高烧", "高热"), ("低热", "低烧"), ("头痛", "头疼", "脑袋疼"), ("腹泻", "拉肚子", "拉稀", "闹肚子"),
    ("腹痛", "肚子疼", "肚子痛"), ("胃痛", "胃疼"), ("咽痛", "嗓子疼", "嗓子痛", "喉咙痛", "喉咙疼", "咽喉痛", "咽喉疼痛",
                                                       "咽东西疼", "咽东西痛", "吞咽痛", "吞咽疼痛", "咽喉肿痛", "喉咙肿痛"),
    ("流涕", "流鼻涕", "流鼻水"), ("喷嚏", "打喷嚏"), ("恶心", "想吐", "反胃"),
    ("呕吐", "吐了", "还吐", "又吐", "老吐", "一直吐", "吐奶", "恶心与呕吐"),
    ("食欲不振", "没胃口", "不想吃饭", "吃不下饭", "食欲减退", "没有食欲", "不想吃东西", "吃不下东西"), ("失眠", "睡不着"),
    ("心悸", "心慌"), ("呼吸困难", "喘不上气", "喘不过气"), ("乏力", "浑身没劲", "没力气", "没劲", "疲乏", "无力"),
    ("全身酸痛", "浑身疼", "浑身酸痛", "肌肉酸痛"), ("咳痰", "有痰"), ("皮疹", "起疹子", "出疹子", "红疹子", "疹子", "红疹"), ("瘙痒", "发痒", "很痒"),
    ("胸痛", "胸口疼", "胸口痛"), ("关节痛", "关节疼"), ("腰痛", "腰疼"), ("多饮", "喝水多"), ("多尿", "尿多"),
    ("体重下降", "瘦了", "变瘦", "消瘦", "体重减轻"), ("尿痛", "小便疼", "尿尿疼"), ("尿频", "老想尿", "小便次数多", "尿次数多", "小便频繁", "夜尿多"),
    ("鼻塞", "鼻子堵"), ("头晕", "头昏"), ("咳嗽", "干咳"), ("发绀", "紫绀"), ("气短", "气急"),
    ("腹胀", "肚子胀", "胀气"), ("胃胀", "胃胀气", "胃部胀"), ("反酸", "泛酸", "返酸"), ("嗳气", "打嗝", "打饱嗝"),
    ("便秘", "大便干", "解不出大便"), ("黑便", "大便发黑", "拉黑便"),
)
CANONICAL = {word: group[0] for group in SYNONYMS for word in group}
# A finding is denied when a denial word (`retriever.words.DENIAL_WORDS`, here with "也没" and "未见", as a
# report writes) stands right before it ("没有发烧", "不咳嗽", "无肿胀", "否认胸痛", "未见明显水肿").
_NEGATION_BEFORE = re.compile(denial_alternation(("也没", "未见")) + r"(感到|感觉|觉得|发现|出现|明显|什么|任何|有|过)*"
                              r"[^，。,；;、]{0,1}$")  # "没感到有什么不适": words that keep it about the finding
# A denied finding carries its denial over a plain list: "没有恶心、呕吐" denies both.
_LIST_JOIN = re.compile(r"^[、和或及也与/ ]{1,2}$")

# A part of the body and what is wrong with it, said apart ("双膝盖蹲不下…就疼痛难忍", "白带发黄，多"): read as the KB's
# own term for that pair ("膝关节疼痛", "白带增多") when the KB lists such a term often enough to stand for it. Each
# surface names its site or descriptor (the second word); KB terms are parsed the same way (see `_pair_terms`).
SITE_WORDS = {
    "头皮": "头皮", "眼睛": "眼", "眼部": "眼", "眼": "眼", "耳朵": "耳", "耳部": "耳", "耳": "耳", "鼻子": "鼻", "鼻腔": "鼻",
    "鼻": "鼻", "嗓子": "咽", "喉咙": "咽", "咽喉": "咽", "咽部": "咽", "咽": "咽", "牙齿": "牙", "牙": "牙", "牙龈": "牙龈",
    "舌头": "舌", "舌": "舌", "脖子": "颈", "颈部": "颈", "颈": "颈", "肩膀": "肩", "肩部": "肩", "肩关节": "肩", "肩": "肩",
    "后背": "背", "背部": "背", "背": "背", "腰部": "腰", "腰": "腰", "胸口": "胸", "胸部": "胸", "胸": "胸", "乳房": "乳房",
    "乳腺": "乳房", "肚子": "腹", "腹部": "腹", "小腹": "下腹", "下腹": "下腹", "下腹部": "下腹", "小肚子": "下腹",
    "上腹": "上腹", "上腹部": "上腹", "胃部": "胃", "胃": "胃", "外阴": "外阴", "阴部": "外阴", "私处": "外阴", "阴道": "阴道",
    "白带": "白带", "阴囊": "阴囊", "睾丸": "睾丸", "龟头": "龟头", "阴茎": "阴茎", "肛门": "肛门", "尿道": "尿道",
    "膝盖": "膝", "膝关节": "膝", "膝部": "膝", "膝": "膝", "脚踝": "踝", "踝关节": "踝", "踝部": "踝", "手指": "手指",
    "手": "手", "关节": "关节", "皮肤": "皮肤", "面部": "面", "脸": "面", "眼皮": "眼睑", "眼睑": "眼睑", "嘴唇": "唇",
    "口唇": "唇", "口腔": "口腔",
}
DESCRIPTOR_WORDS = {
    "疼痛": "痛", "疼": "痛", "痛": "痛", "酸痛": "痛", "胀痛": "痛", "刺痛": "痛", "隐痛": "痛", "瘙痒": "痒", "发痒": "痒",
    "痒": "痒", "刺痒": "痒", "肿胀": "肿", "肿大": "肿", "肿": "肿", "增多": "增多", "过多": "增多", "多": "增多",
    "量多": "增多", "发红": "红", "红": "红", "充血": "红", "麻木": "麻", "发麻": "麻", "麻": "麻", "出血": "出血",
    "流血": "出血", "异味": "异味", "干燥": "干", "干": "干", "僵硬": "僵", "溃疡": "溃疡", "红肿": "红肿", "流脓": "脓",
    "灼热": "灼热", "烧灼感": "灼热", "不适": "不适",
}
PAIR_MIN_FREQUENCY = 10  # a pair's term stands for it only when this many diseases list it ("大腿刺痛" (5) is no 大腿疼)
_PAIR_TERM = re.compile(rf"^(?P<site>{'|'.join(sorted(SITE_WORDS, key=len, reverse=True))})(部|部位)?的?"
                        rf"(?P<what>{'|'.join(sorted(DESCRIPTOR_WORDS, key=len, reverse=True))})$")
_SITE = re.compile("|".join(sorted(SITE_WORDS, key=len, reverse=True)))
_DESCRIPTOR = re.compile("|".join(sorted(DESCRIPTOR_WORDS, key=len, reverse=True)))
_CLAUSE = re.compile(r"[^，。,；;！!？?\s]+")
_ELLIPSIS_CHARS = 4
_PAIR_SPAN = 12  # characters from a site to what is said of it, in one clause ("膝盖蹲不下伸不直用力过度就疼痛")
_DENIED_BEFORE = re.compile(r"[不没无未]$|(不太|不怎么|没有|没什么)$")


def canonical(term: str) -> str:
    return CANONICAL.get(term, term)


@dataclass(frozen=True)
class Finding:
    """A KB symptom term the message reports (present) or denies, where it was written."""

    term: str
    start: int
    end: int
    present: bool


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
    pregnant: bool | None = None  # pregnant or just delivered (True), or not said
    elderly: bool | None = None  # said to be ELDERLY_AGE or older (True), or not said

    @property
    def active(self) -> bool:
        return bool(self.present)


@dataclass
class Step:
    """What the inquiry does next: ask about `symptom`, or finish with `candidates`."""

    candidates: list[Candidate]
    symptom: str | None = None
    gain: float = 0.0
    done: bool = False
    reason: str = ""
    evidence: float = 0.0  # bits of the leading candidate's specific findings (see `evidence`)

    needed: float = MIN_EVIDENCE  # the index's bar (`SymptomIndex.min_evidence`)

    @property
    def thin(self) -> bool:
        """Too little specific evidence to name any condition: ask instead of listing candidates."""
        return bool(self.candidates) and self.evidence < self.needed


class SymptomIndex:
    """Which symptoms the KB lists for which disease, and the vocabulary to spot them in text."""

    def __init__(self, diseases: dict[int, str], symptoms: dict[int, set[str]],
                 incidence: dict[int, float] | None = None, departments: dict[int, set[str]] | None = None):
        self.diseases = diseases
        self.symptoms = symptoms
        self.incidence = dict(incidence or {})
        # who each disease is for, from its name and the departments the KB lists ("儿科" -> a child)
        self.groups = {d: populations(name, (departments or {}).get(d, ())) for d, name in diseases.items()}
        # where each is seen (就诊科室), as retriever.departments reads them
        self.departments = {d: {n.strip() for n in deps if n and n.strip()} for d, deps in (departments or {}).items()}
        # log prior from the KB's 发病率 where it gives one; the median for the rest; uniform when none does
        rates = {d: r for d, r in (incidence or {}).items() if d in diseases and r > 0}
        median = sorted(rates.values())[len(rates) // 2] if rates else 1.0
        self.log_prior = {d: PRIOR_WEIGHT * math.log(rates.get(d, median)) for d in diseases}
        self.frequency = Counter(s for ss in symptoms.values() for s in ss)
        # In a big KB, a "symptom" listed for a few diseases only is often a stray word of the crawl ("电影",
        # "蓝色", "计算": 3 each in xywy + CMeKG; 胃胀 is listed 8 times, 头痛 892)
        self.min_frequency = 5 if len(diseases) > 500 else 1
        self.by_symptom: dict[str, list[int]] = {}
        for disease_id, ss in symptoms.items():
            for s in ss:
                self.by_symptom.setdefault(s, []).append(disease_id)
        words = {s for s, c in self.frequency.items() if len(s) >= 2 and c >= self.min_frequency}
        words |= {w for w, c in CANONICAL.items() if self.frequency.get(c, 0) >= self.min_frequency}
        self.automaton = ahocorasick.Automaton()
        for w in words:
            self.automaton.add_word(w, w)
        self.size = len(words)
        if words:
            self.automaton.make_automaton()

    @classmethod
    def from_store(cls, store) -> "SymptomIndex":
        """The diseases' 症状 items and 发病率 of a passage store (see the module docstring)."""
        diseases: dict[int, str] = {}
        symptoms: dict[int, set[str]] = {}
        incidence: dict[int, float] = {}
        # one pass over the store (no index on section alone): symptom lists and incidence together
        departments: dict[int, set[str]] = {}
        rows = store.db.execute("SELECT entity_id, entity_name, section, items, text FROM passages "
                                "WHERE entity_type = 'disease' AND section IN ('症状', '发病率', '就诊科室')")
        for disease_id, name, section, items, text in rows:
            if section == "就诊科室":
                departments.setdefault(disease_id, set()).update(json.loads(items or "[]") or [text or ""])
                continue
            if section == "发病率":
                m = re.search(r"(\d+(?:\.\d+)?)\s*%", text or "")
                if m and disease_id not in incidence:
                    incidence[disease_id] = float(m.group(1)) / 100
                continue
            if items == "[]":
                continue
            diseases[disease_id] = name
            found = symptoms.setdefault(disease_id, set())
            for item in json.loads(items):
                term = canonical(normalize_name(item))
                if len(term) >= 2 and is_symptom_item(item):
                    found.add(term)
        return cls(diseases, symptoms, incidence, departments)

    def save(self, folder: Path) -> None:
        """The whole index (lists, vocabulary automaton, priors) in the generation folder, so that loading it
        is one read, not a scan of every passage nor a rebuild of the automaton."""
        tmp = Path(folder) / f".{SYMPTOMS_FILE}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, Path(folder) / SYMPTOMS_FILE)

    @classmethod
    def open(cls, folder: Path, store) -> "SymptomIndex":
        """The findings index saved with a generation (by the index's own build or update); for a generation
        of an earlier version, its JSON lists or, failing that, a scan of `store`."""
        folder = Path(folder)
        if (folder / SYMPTOMS_FILE).exists():
            with open(folder / SYMPTOMS_FILE, "rb") as f:
                return pickle.load(f)
        if (folder / _LEGACY_FILE).exists():
            data = json.loads((folder / _LEGACY_FILE).read_text(encoding="utf-8"))
            return cls({int(d): n for d, n in data["diseases"].items()},
                       {int(d): set(s) for d, s in data["symptoms"].items()},
                       {int(d): r for d, r in data["incidence"].items()})
        return cls.from_store(store)

    def findings(self, text: str) -> list[Finding]:
        """KB symptom terms in `text`, longest match first, each reported or denied, in text order.
        Positions are those of `text` (matching is on lower-cased text of the same length)."""
        if not self.size or not text:
            return []
        lowered = text.lower()
        matches = sorted(((end - len(w) + 1, w) for end, w in self.automaton.iter(lowered)),
                         key=lambda m: (-len(m[1]), m[0]))
        taken = [False] * len(text)
        found: list[Finding] = []
        for start, surface in matches:
            end = start + len(surface)
            if any(taken[start:end]) or is_body_site(surface):  # (an index built before sites were left out)
                continue
            taken[start:end] = [True] * (end - start)
            before = lowered[max(0, start - 10):start]
            negated = bool(_NEGATION_BEFORE.search(before)) and not ASKING_BEFORE.search(before)
            found.append(Finding(canonical(surface), start, end, not negated))
        found.sort(key=lambda f: f.start)
        have = {f.term for f in found}
        # a term the message writes itself ("关节痛") says the pair already: the KB's other wording is not added
        paired = [f for f in self._pair_findings(text) if f.term not in have
                  and not any(_SITE.search(e.term) and e.start < f.end and f.start < e.end for e in found)]
        # what is said of a site without one ("疼痛" of "膝盖…疼痛难忍", "很痒" of "外阴很痒") is said by the pair's term
        found = sorted([f for f in found if _SITE.search(f.term) or not any(p.start < f.end and f.start < p.end
                                                                            for p in paired)] + paired,
                       key=lambda f: f.start)
        for i in range(1, len(found)):  # "没有恶心、呕吐": the denial runs over the list
            before, f = found[i - 1], found[i]
            if not before.present and f.present and _LIST_JOIN.match(lowered[before.end:f.start]):
                found[i] = Finding(f.term, f.start, f.end, False)
        return found

    def _pair_terms(self) -> dict[tuple[str, str], str]:
        """(site, descriptor) -> the KB term most diseases list for that pair (see SITE_WORDS), from this index's
        own vocabulary; worked out once per loaded index."""
        pairs = self.__dict__.get("_pairs")
        if pairs is None:
            best: dict[tuple[str, str], tuple[int, str]] = {}
            for term, n in self.frequency.items():
                m = _PAIR_TERM.match(term)
                if m and n >= max(PAIR_MIN_FREQUENCY, self.min_frequency) and self.weight(term) > 0:
                    key = (SITE_WORDS[m.group("site")], DESCRIPTOR_WORDS[m.group("what")])
                    best[key] = max(best.get(key, (0, "")), (n, term))
            pairs = self.__dict__["_pairs"] = {k: term for k, (_, term) in best.items()}
        return pairs

    def _pair_findings(self, text: str) -> list[Finding]:
        """Findings told as a site and, later in the same clause, what is wrong with it ("膝盖…疼痛难忍" -> the KB's
        膝关节疼痛); a one-character site only right before it ("腰很疼", not "手术后…疼"). A denial right before the
        descriptor ("膝盖不疼") reads nothing: what is denied is left to the exact terms."""
        pairs = self._pair_terms() if self.size else {}
        found: list[Finding] = []
        last_site = None  # a clause of a few characters that names no site says more of the last one ("白带发黄，多")
        for clause in _CLAUSE.finditer(text) if pairs else ():
            sites = list(_SITE.finditer(text, clause.start(), clause.end()))
            spans = [(site, min(sites[i + 1].start() if i + 1 < len(sites) else clause.end(),
                                site.end() + (3 if len(site.group()) == 1 else _PAIR_SPAN)))
                     for i, site in enumerate(sites)]
            if not sites and last_site is not None and len(clause.group()) <= _ELLIPSIS_CHARS:
                spans = [(last_site, clause.end())]
            for site, stop in spans:
                for what in _DESCRIPTOR.finditer(text, max(site.end(), clause.start()), stop):
                    term = pairs.get((SITE_WORDS[site.group()], DESCRIPTOR_WORDS[what.group()]))
                    if term and not _DENIED_BEFORE.search(text[max(0, what.start() - 3):what.start()]):
                        # (a site said in an earlier clause: the finding is where its descriptor is)
                        start = site.start() if site.end() > clause.start() else what.start()
                        found.append(Finding(term, start, what.end(), True))
                        break
            last_site = sites[-1] if sites else last_site if len(clause.group()) <= _ELLIPSIS_CHARS else None
        return found

    def find(self, text: str) -> tuple[list[str], list[str]]:
        """(present, absent) KB symptom terms of `text`, each once, in text order."""
        present, absent = [], []
        for f in self.findings(text):
            into = present if f.present else absent
            if f.term not in into:
                into.append(f.term)
        return present, [t for t in absent if t not in present]

    def is_symptom(self, name: str) -> bool:
        return self.frequency.get(canonical(normalize_name(name)), 0) >= self.min_frequency

    def weight(self, term: str) -> float:
        """Bits a present finding carries: log2(diseases / diseases listing it); 0 for a generic one."""
        n = len(self.diseases) or 1
        listed = self.frequency.get(term, 0)
        if not listed or term in VAGUE or QUALITY_ONLY.fullmatch(term) or listed > GENERIC_SHARE * n and n > 100:
            return 0.0
        return math.log2(n / listed)

    @property
    def min_evidence(self) -> float:
        """Bits of specific evidence needed to name a condition in this KB (see MIN_EVIDENCE)."""
        return min(MIN_EVIDENCE, EVIDENCE_SHARE * math.log2(max(2, len(self.diseases))))

    def evidence(self, candidate: Candidate) -> float:
        """The specific evidence for a candidate: the weights of the present findings it lists (none from fewer
        than MIN_FINDINGS specific ones)."""
        weights = [w for s in candidate.matched if (w := self.weight(s)) > 0]
        return sum(weights) if len(weights) >= MIN_FINDINGS else 0.0

    def rank(self, state: InquiryState) -> list[Candidate]:
        """Diseases listing at least one present symptom and plausible for this patient, by posterior."""
        groups = getattr(self, "groups", None)  # None: an index saved before groups were kept (names only)
        ids = {d for s in state.present for d in self.by_symptom.get(s, ())
               if fits(groups[d] if groups is not None else populations(self.diseases[d]), state)}
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
        evidence, needed = max(self.evidence(c) for c in candidates[:TOP_CANDIDATES]), self.min_evidence
        if evidence < needed:
            symptom, gain = self.best_question(candidates[:TOP_CANDIDATES], state) \
                if len(state.asked) < max_questions else (None, 0.0)
            return Step(candidates, symptom=symptom, gain=gain, done=symptom is None, evidence=evidence,
                        needed=needed, reason=f"thin evidence ({evidence:.1f} bits < {needed:.1f})")
        if candidates[0].posterior >= CONFIDENT:
            return Step(candidates, done=True, reason=f"{candidates[0].name} is likely enough", evidence=evidence, needed=needed)
        if len(state.asked) >= max_questions:
            return Step(candidates, done=True, reason=f"asked {len(state.asked)} questions", evidence=evidence, needed=needed)
        symptom, gain = self.best_question(candidates[:TOP_CANDIDATES], state)
        if symptom is None or gain < MIN_GAIN:
            return Step(candidates, done=True, reason="no question would tell the candidates apart", evidence=evidence, needed=needed)
        return Step(candidates, symptom=symptom, gain=gain, evidence=evidence, needed=needed)

    def best_question(self, candidates: list[Candidate], state: InquiryState) -> tuple[str | None, float]:
        """The unasked symptom whose answer is expected to reduce the entropy over candidates most."""
        total = sum(c.posterior for c in candidates)
        p = {c.disease_id: c.posterior / total for c in candidates}
        known = set(state.present) | set(state.absent) | set(state.asked) | VAGUE
        options = Counter(s for c in candidates for s in self.symptoms[c.disease_id]
                          if s not in known and 2 <= len(s) <= MAX_ASKED_CHARS and not s.endswith("等")
                          and self.frequency[s] >= self.min_frequency and self.weight(s) > 0)
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
_MALE_ONLY = re.compile(r"(前列腺|睾丸|阴茎|精索|阴囊|男性不育|勃起|包皮|龟头)")
_ELDERLY_ONLY = re.compile(r"^(老年|老人)")  # 老年人肺癌 is not named to someone whose age is not said to be old
ELDERLY_AGE = 60
_PREGNANCY_ONLY = re.compile(r"(妊娠|产后|产褥|孕|胎|分娩|流产|哺乳期|乳汁)")
# Departments that say who a disease is for (xywy, CMeKG 就诊科室).
_CHILD_DEPARTMENT = re.compile(r"(儿科|小儿|新生儿)")
_FEMALE_DEPARTMENT = re.compile(r"(妇科|产科|妇产)")
_MALE_DEPARTMENT = re.compile(r"(男科)")


def populations(disease: str, departments=()) -> frozenset[str]:
    """Who a disease is for, read off its name and departments: "child" (小儿…, 儿科 only), "adult",
    "female", "male", "pregnant" (妊娠…, 产后…), "elderly" (老年…). A department counts only when it is the disease's only kind
    of department (儿科 beside 内科 says nothing)."""
    out = set()
    deps = [d for d in departments if d]
    if _CHILD_ONLY.search(disease) and "先天性" not in disease or deps and all(_CHILD_DEPARTMENT.search(d) for d in deps):
        out.add("child")
    if _ADULT_ONLY.search(disease):
        out.add("adult")
    if _FEMALE_ONLY.search(disease) or deps and all(_FEMALE_DEPARTMENT.search(d) for d in deps):
        out.add("female")
    if _MALE_ONLY.search(disease) or deps and all(_MALE_DEPARTMENT.search(d) for d in deps):
        out.add("male")
    if _PREGNANCY_ONLY.search(disease):
        out.add("pregnant")
    if _ELDERLY_ONLY.search(disease):
        out.add("elderly")
    return frozenset(out)


def fits(groups: frozenset[str], state: InquiryState) -> bool:
    """Whether a disease for `groups` fits the patient. What the person has not said counts against a narrow
    group: a children's disease needs a child named, a disease of pregnancy a pregnancy, since most people
    ask about an adult who is not pregnant; sex rules out only when said."""
    if "child" in groups and state.child is not True:
        return False
    if "adult" in groups and state.child is True:
        return False
    if "pregnant" in groups and not state.pregnant:
        return False
    if "elderly" in groups and not state.elderly:
        return False
    if "female" in groups and state.sex == "男" or "male" in groups and state.sex == "女":
        return False
    return True


def _entropy(ps) -> float:
    return -sum(q * math.log2(q) for q in ps if q > 0)


def _normalised(weights: dict) -> list[float]:
    total = sum(weights.values())
    return [w / total for w in weights.values()] if total > 0 else []
