"""The support check: which passages answer the question, or why none does (and then we refuse).

It reads the query analysis (`retriever.analysis.QueryAnalysis`: topics, asked sections, names the KB
lacks) and the retrieval result, and changes neither. Two ways a question is supported:
  - it names KB entities (`analysis.topics`): the answer comes from their passages of the asked
    section; an entity without that section is answered with its overview and one line saying what
    the KB does not cover (the KB bears on the question, so it is not refused);
  - it names none, but a retrieved passage covers what the question is about (`analysis.about`: its
    words once names, cues and asking words are removed) well enough: the support score, lexical
    coverage blended with dense similarity, reaches the threshold of the question's intent. Thresholds
    are calibrated on the retriever's templated questions (`chat calibrate`) and kept next to the
    index; built-in defaults apply until then.
A name the analysis found glued to another product ("阿莫西林克拉维酸钾" when the KB only has 阿莫西林)
is refused with a "did you mean" rather than answered about the wrong drug.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from kb.names import fold
from retriever.analysis import QueryAnalysis, residue
from retriever.hits import EntityMention, Passage, RetrievalResult
from retriever.linking import bare_drug_name
from retriever.words import COST_WORDS, HAN, alternation

from chat.selection import focus_words, is_list

THRESHOLDS_FILE = "chat-support.json"
DEFAULT_THRESHOLD = 0.8
LEXICAL_WEIGHT = 0.85  # the rest is dense cosine, when the retriever reports it
# What a refusal suggests when nothing the message names is missing: how to ask the KB (for a question put to it).
ASK_THE_KB = "可以换个说法，或直接问知识库中的药品、疾病或检查，例如「阿莫西林的用法用量」「高血压挂什么科」；身体不适请咨询医生或药师。"
MAX_PASSAGES = 3  # per entity: enough for a long section, few enough for a compact prompt
MAX_TOPICS = 2  # a narrative names many things; the answer is about the first two asked about

# What to answer when a question names an entity but no section ("阿莫西林" alone).
OVERVIEW = {
    "drug": ("适应症", "用法用量", "成份"),
    "disease": ("概述", "症状", "就诊科室"),
    "exam": ("概述", "临床意义", "检查项目"),
}
# Where a label without the asked section says it instead (CMeKG entries have no 孕妇及哺乳期妇女用药 but a 禁忌
# that names 孕妇). Only for these: a question about 不良反应 is never answered with another section.
FALLBACK = {
    "孕妇及哺乳期妇女用药": ("禁忌", "注意事项"),
    "儿童用药": ("禁忌", "注意事项"),
    "老年用药": ("注意事项", "禁忌"),
    "药物过量": ("注意事项",),
    "护理": ("预防", "饮食"),
    "治疗方式": ("常用药物",),
    "概述": ("病因", "症状"),  # "怎么回事" of an entry with no overview: what causes it and how it shows answer it
}
# A general question's section and what a doctor adds to it (one passage each, when the entity has it).
BUNDLES = {"治疗方式": ("常用药物", "就诊科室"), "护理": ("饮食", "预防")}
# What else one may ask about an entry, said after "it has nothing on X" to a question put to the KB (not to a
# person telling their story: `without_suggestions`).
ASK_MORE_OPEN = "（还可以问它的"
_ASK_MORE = re.compile(re.escape(ASK_MORE_OPEN) + r"[^）]*）")


OVERVIEW_FOLLOWS = "，以下是它的概况"


def without_suggestions(line: str) -> str:
    """A not-covered line as a person telling their own story reads it: without the "还可以问它的…" suggestion,
    and without announcing an overview (a person gets none in place of the section asked: chat/pipeline.py
    `_without_standing_overview`)."""
    return _ASK_MORE.sub("", line).replace(OVERVIEW_FOLLOWS, "")


FOCUS = "(focus)"  # passages found by the question's own words, not by a section
# Focus words that name a section or a way of asking, not content to look for in the text.
FOCUS_NOT_CONTENT = {"不良反应", "副作用", "禁忌", "症状", "表现", "病因", "原因", "检查", "用法", "用量", "剂量",
                     "适应症", "注意事项", "饮食", "护理", "预防", "并发症", "治愈", "传染", "遗传", "医院", "科室"}


@dataclass
class Thresholds:
    """Support-score thresholds per intent (section kind), from `chat calibrate`."""

    default: float = DEFAULT_THRESHOLD
    by_intent: dict[str, float] = field(default_factory=dict)
    calibrated_on: dict = field(default_factory=dict)

    def of(self, intent: str | None) -> float:
        return self.by_intent.get(intent or "", self.default)

    @classmethod
    def load(cls, index_dir: str | Path | None) -> "Thresholds":
        path = Path(index_dir or "") / THRESHOLDS_FILE
        if index_dir and path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data.get("default", DEFAULT_THRESHOLD), data.get("by_intent", {}), data.get("calibrated_on", {}))
        return cls()

    def save(self, index_dir: str | Path) -> Path:
        path = Path(index_dir) / THRESHOLDS_FILE
        path.write_text(json.dumps({"default": self.default, "by_intent": self.by_intent,
                                    "calibrated_on": self.calibrated_on}, ensure_ascii=False, indent=2),
                        encoding="utf-8")
        return path


@dataclass
class Support:
    ok: bool
    passages: list[Passage]  # what the answer may cite, in citation order
    reason: str  # how support was found, or why not
    score: float = 0.0
    entities: list[EntityMention] = field(default_factory=list)  # one chosen entity per name answered about
    intent: str | None = None
    suggestion: str = ""  # for a refusal: what the user could ask instead
    scores: list[dict] = field(default_factory=list)  # per-hit support scores, for the debug tab
    not_covered: list[str] = field(default_factory=list)  # lines on what the KB does not cover, shown to the user


def support_score(about: str, passage: Passage, dense: float | None = None) -> float:
    """How well a passage covers what the question is about: the share of its words (by characters)
    that the passage contains whole, blended with the dense cosine when there is one. Whole words, not
    bigrams: "尼帕 病毒感染" must not pass on "病毒感染" alone."""
    words = [w for w in fold(about).split() if len(w) >= 2]
    if not words:
        return 0.0
    text = fold(passage.entity_name + " " + passage.text)
    lexical = sum(len(w) for w in words if w in text) / sum(len(w) for w in words)
    if dense is None:
        return lexical
    return LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * max(0.0, dense)




def check_support(analysis: QueryAnalysis, result: RetrievalResult, passages_of, thresholds: Thresholds,
                  overview: tuple[str, ...] = ()) -> Support:
    """Decide what (if anything) supports an answer; see the module docstring.

    `passages_of(entity_id, section)` gives an entity's passages of a section, in chunk order;
    `overview` sections go first when no section is asked (the pipeline puts 禁忌 there for an allergy)."""
    intents = list(analysis.intents)
    intent = intents[0] if intents else None
    groups = mention_groups(analysis.topics, result)[:MAX_TOPICS] or contained_name(analysis, result)
    if not groups and analysis.unknown:
        name = analysis.unknown[0]
        near = [n for written, n in analysis.corrected if written == name][:1] or \
            [m.entity_name for m in analysis.mentions if m.surface in name][:1]
        return Support(False, [], f"「{name}」 is not in the KB", entities=[], intent=intent,
                       suggestion=(f"知识库中没有「{name}」" if looks_like_name(name) else "知识库中没有与此相应的条目")
                       + (f"；您是不是指「{near[0]}」？如果是，请用这个名称再问一次。" if near else "；请核对名称，或咨询医生、药师。"))
    if groups:
        passages, chosen, not_covered = [], [], []
        for group in groups:
            found, candidate, section = _group_passages(group, analysis, result, passages_of, overview)
            if found:
                passages += found
                chosen.append(candidate)

                if intents and section not in intents and section not in FALLBACK.get(intents[0], ()):
                    have = [s for s in _ALL_SECTIONS.get(candidate.entity_type, ()) if passages_of(candidate.entity_id, s)]
                    not_covered.append(f"知识库中「{candidate.entity_name}」没有关于{intents[0]}的内容{OVERVIEW_FOLLOWS}"
                                       + (f"{ASK_MORE_OPEN}{'、'.join(have[:5])}）。" if have else "。"))
        if passages:
            how = "entity+section" if intents and not not_covered else "entity overview"
            return Support(True, passages, how, 1.0, chosen, intent, not_covered=not_covered)
        m = groups[0][0]
        fuller = _fuller_entity(m, result)  # "乙型肝炎" without passages of its own, "乙型病毒性肝炎" with
        if fuller is not None:
            found, candidate, _ = _group_passages([fuller], analysis, result, passages_of, overview)
            if found:
                return Support(True, found, "entity overview", 1.0, [candidate], intent, not_covered=[
                    f"知识库中「{m.entity_name}」没有可引用的内容，以下是「{candidate.entity_name}」的内容。"])
        return Support(False, [], f"{m.entity_name} has no passages in the KB", 0.0, [m], intent,
                       suggestion=f"知识库中「{m.entity_name}」还没有可引用的内容；请咨询医生或药师。")
    scored = []
    for hit in result.hits:
        scored.append((support_score(analysis.about, hit.passage, hit.channel_scores.get("dense")), hit))
    scored.sort(key=lambda x: -x[0])
    threshold = thresholds.of(intent)
    debug = [{"passage_id": h.passage.id, "support": round(s, 3)} for s, h in scored]
    asked = [(s, h) for s, h in scored if not intents or h.passage.section in intents]
    best = asked[0][0] if asked else 0.0  # the best passage of an asked section: others cannot answer
    keep = [h.passage for s, h in asked if s >= threshold]
    if keep:
        top_entity = keep[0].entity_id
        keep = [p for p in keep if p.entity_id == top_entity][:MAX_PASSAGES]
        return Support(True, keep, f"support {best:.2f} >= {threshold:.2f}", best, [], intent, scores=debug)
    return Support(False, [], f"best support {best:.2f} < {threshold:.2f}", best, [], intent, scores=debug,
                   suggestion=ASK_THE_KB)


def _fuller_entity(empty: EntityMention, result: RetrievalResult) -> EntityMention | None:
    """A retrieved entity of the same type whose name holds every character of `empty`'s in order ("乙型肝炎" in
    "乙型病毒性肝炎"), for a linked name that has no passages; None when the name is too short to tell."""
    if len(empty.entity_name) < 3:
        return None
    for hit in result.hits:
        p = hit.passage
        if p.entity_type == empty.entity_type and p.entity_id != empty.entity_id and _in_order(empty.entity_name, p.entity_name):
            return EntityMention(empty.surface, empty.start, empty.end, p.entity_id, p.entity_type, p.entity_name)
    return None


def _in_order(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def mention_groups(topics, result: RetrievalResult) -> list[list[EntityMention]]:
    """The topics grouped by the name in the question (in the analysis's order: asked-about names
    first), each group's candidates best-ranked first: a bare name ("布洛芬") links several products."""
    rank, authority = {}, {}
    for hit in result.hits:
        rank.setdefault(hit.passage.entity_id, hit.rank)
        authority[hit.passage.entity_id] = max(authority.get(hit.passage.entity_id, 0), hit.passage.authority)
    groups: dict[tuple[int, int], list[EntityMention]] = {}
    for m in topics:
        if m.entity_type in OVERVIEW:
            groups.setdefault((m.start, m.end), []).append(m)
    out, seen = [], set()
    for key in groups:  # insertion order is the analysis's order
        # the entity called what was written first (a sibling entry "肾钙乳" only when "肾钙乳症" lacks the section),
        # then the product whose retrieved text has the most authoritative source (a label before CMeKG's entry of
        # another form of the same drug: "阿莫西林" is answered from 阿莫西林胶囊's label), then the best ranked
        group = sorted(groups[key], key=lambda m: (m.entity_name != m.surface, -authority.get(m.entity_id, 0),
                                                   rank.get(m.entity_id, 10**6), m.entity_id))
        group = [m for m in group if m.entity_id not in seen]
        if group:
            seen.add(group[0].entity_id)
            out.append(group)
    return out


def contained_name(analysis: QueryAnalysis, result: RetrievalResult) -> list[list[EntityMention]]:
    """A retrieved entity most of whose name the question spells out and that is all the question is
    about ("华法林" for 华法林钠片, "阿托伐他汀" for 阿托伐他汀钙片): people drop salts and dosage forms
    the linker may not know. "尼帕病毒感染" shares only "病毒感染" with 新型冠状病毒感染: no."""
    question = analysis.question
    for hit in result.hits:
        p = hit.passage
        if p.entity_type not in OVERVIEW:
            continue
        span = _longest_common(question, p.entity_name)
        core = (bare_drug_name(p.entity_name) if p.entity_type == "drug" else None) or p.entity_name
        if len(span) < 3 or len(span) < 0.6 * len(core):
            continue
        start = question.find(span)
        mention = EntityMention(span, start, start + len(span), p.entity_id, p.entity_type, p.entity_name)
        if sum(len(run) for run in HAN.findall(residue(question, [mention]))) <= 1:
            return [[mention]]
    return []


def _longest_common(a: str, b: str) -> str:
    """The longest substring of `a` that is also in `b` (names are short: quadratic is fine)."""
    best = ""
    for i in range(len(a)):
        for j in range(i + len(best) + 1, len(a) + 1):
            if a[i:j] in b:
                best = a[i:j]
            else:
                break
    return best


_ALL_SECTIONS = {
    "drug": ("适应症", "用法用量", "不良反应", "禁忌", "注意事项", "药物相互作用", "孕妇及哺乳期妇女用药", "儿童用药",
             "老年用药", "成份", "规格", "贮藏"),
    "disease": ("概述", "症状", "病因", "检查", "常用药物", "就诊科室", "并发症", "预防", "治疗方式", "饮食"),
    "exam": ("概述", "临床意义", "正常值", "检查项目", "注意事项", "相关疾病"),
}


def _group_passages(group: list[EntityMention], analysis: QueryAnalysis, result: RetrievalResult, passages_of,
                    overview: tuple[str, ...]) -> tuple[list[Passage], EntityMention, str | None]:
    """The passages of a candidate of a name that has the asked section (or the section's fallback);
    failing that, the first candidate's overview. Returns (passages, candidate, section)."""
    intents = list(analysis.intents)
    sections = list(dict.fromkeys([*intents, *(s for i in intents[:1] for s in FALLBACK.get(i, ()))]))
    for section in sections:
        having = [(c, found) for c in group if (found := passages_of(c.entity_id, section))]
        if having:
            # of the products a bare name links, one whose section speaks to the question ("布洛芬和阿司匹林":
            # the label that names 阿司匹林) before the best-ranked one
            candidate, found = next(((c, f) for c, f in having if any(
                w in p.body for p in f for w in focus_words(analysis, p))), having[0])
            chosen = section_passages(found, result)
            if section == intents[0]:
                # "怎么治疗" is answered the way a doctor does: the treatment, the usual drugs, whom to see
                for more in BUNDLES.get(section, ()):
                    chosen += section_passages(passages_of(candidate.entity_id, more), result)[:1]
            return chosen, candidate, section
    focus = [w for w in analysis.focus if w not in FOCUS_NOT_CONTENT]
    if not intents and focus:
        # no section asked, but a word to look for ("高血压可以洗冷水浴"): the entity's sentences that say it
        for candidate in group:
            words = [w for w in focus if w not in candidate.entity_name]  # "血压" is in every 高血压 passage
            found = [p for p in passages_of(candidate.entity_id) if any(w in p.body for w in words)]
            if found:
                return found[:MAX_PASSAGES], candidate, FOCUS
    for candidate in group:
        for section in dict.fromkeys([*overview, *OVERVIEW[candidate.entity_type]]):
            found = passages_of(candidate.entity_id, section)
            if found:
                return section_passages(found, result), candidate, section
    return [], group[0], None


def section_passages(found: list[Passage], result: RetrievalResult) -> list[Passage]:
    """The passages of one section worth quoting, at most MAX_PASSAGES.

    A label section is stored both as text and as the list of items extracted from it; quoting both says
    everything twice, so text wins. A disease list (症状: items, then detail text) keeps its list first.
    Among text chunks the ones retrieval ranked come first: they match the question best."""
    if found and is_list(found[0]):
        return whole_list(found)
    texts = [p for p in found if not p.items]
    lists = [p for p in found if p.items]
    if lists and found[0].items:  # list-first section: the list, then one paragraph of detail
        chosen = lists[:MAX_PASSAGES - 1] + texts[:1]
    else:
        ranked = {h.passage.id for h in result.hits}
        texts = sorted(texts or lists, key=lambda p: (p.id not in ranked, p.chunk))
        chosen = sorted(texts[:MAX_PASSAGES], key=lambda p: p.chunk)
    return chosen


def whole_list(found: list[Passage]) -> list[Passage]:
    """A drug's list section (chat.selection.LIST_SECTIONS), all of it: every source's passages, highest rank
    first (a lower source's passages hold only what the higher lack, retriever.passages.settle), each source's
    text chunks in order, or its item list when it has no text (a label's items only repeat its text)."""
    by_origin: dict[str, list[Passage]] = {}
    for p in found:
        by_origin.setdefault(p.id.rsplit(":", 2)[-2], []).append(p)
    chosen = []
    for origin, ps in sorted(by_origin.items(), key=lambda kv: -max(p.authority for p in kv[1])):
        texts = [p for p in ps if not p.items or p.body != "、".join(p.items)]
        chosen += sorted(texts or ps, key=lambda p: p.chunk)
    return chosen


# What people ask that no KB section holds: a line on whom to ask instead, next to what the KB does say.
NOT_IN_KB = (
    (re.compile(r"(哪家医院|医院哪家|哪个医院|什么医院|哪里治|哪家好|哪里看|推荐.{0,4}医院|医院.{0,6}(推荐|哪|有哪些))"),
     "知识库不评价或推荐具体医院；请到正规医院的相应科室就诊。"),
    (re.compile(alternation(COST_WORDS)), "具体费用因地区和医院而异，请向就诊医院或当地医保部门咨询。"),
    (re.compile(r"([0-9.]+\s*(mmol|umol|μmol|u/l|iu|g/l|mg/dl|拷贝|copies|次方)|化验单|报告单|指标|[一二三四五]项.{0,6}阳)",
                re.IGNORECASE), "化验和检查的具体数值需要结合化验单、参考范围和病情，由医生当面解读。"),
)


# A drug or disease name: a compact word that ends like one. "脸上长痘痘", "每年春天花粉过敏" and "心脏甲亢" are
# descriptions; saying the KB lacks them reads as if the KB were asked for an entry that does not exist.
_NAME_END = re.compile(r"(病|症|征|炎|癌|瘤|疹|癣|疮|瘘|痔|结石|梗死|梗塞|出血|中毒|感染|综合征|障碍|畸形|缺损|"
                       r"片|胶囊|颗粒|丸|散|膏|剂|液|针|贴|栓|霉素|西林|沙星|他汀|洛尔|地平|沙坦|普利|林|韦|定|唑|嗪|酮|胺|醇|素|钾|钠|钙|镁|锌)$")
_NOT_IN_NAME = re.compile(r"[的了着过长有是在每很太也都就还又和与或而被把让会说怕去该上里下前后左右时年月天伯叔舅爸妈爷哥姐弟妹婆]")
# Words of telling, finding and becoming glued before a name ("引来肝癌", "知晓糖尿病", "恶变成肝癌", "专家胃病"):
# anywhere in the phrase, the last character too
_NOT_A_NAME_WORD = re.compile(r"(处方|引致|引起|引来|引发|导致|手术|切除|突然|发病|专家|知晓|知道|一位|一个|关进|浅谈|发觉|发现|"
                              r"变成|恶变|转成|发展成|确诊|得了|患了|查出|担心|害怕)")


def looks_like_name(text: str) -> bool:
    """Whether `text` reads as a drug or disease name (not a phrase of the description)."""
    text = text.strip()
    return 2 <= len(text) <= 14 and bool(_NAME_END.search(text)) and not _NOT_IN_NAME.search(text[:-1]) \
        and not _NOT_A_NAME_WORD.search(text)


def not_in_kb(analysis: QueryAnalysis) -> list[str]:
    """Lines saying what part of the question the KB does not cover, and whom to ask."""
    scope = "，".join(analysis.parts) or analysis.question
    return [line for pattern, line in NOT_IN_KB if pattern.search(scope if "化验" not in line else analysis.question)]
