"""The support check: which passages answer the question, or why none does (and then we refuse).

Two ways a question is supported:
  - it names a KB entity (linked by the retriever) and the KB has the asked section of that entity:
    the answer comes from those passages, whatever else retrieval found;
  - it names none, but a retrieved passage covers what the question is about (its words once the
    asking words are removed: "瑞德西韦的副作用是什么" is about "瑞德西韦") well enough: the
    support score, lexical coverage blended with dense similarity, reaches the threshold of the
    question's intent. Thresholds are calibrated on the retriever's templated questions
    (`chat calibrate`) and kept next to the index; built-in defaults apply until then.
A name glued to more characters ("阿莫西林克拉维酸钾" when the KB only has 阿莫西林) is a different
product, not the one linked: that question is refused with a "did you mean" rather than answered
about the wrong drug.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from retriever.hits import EntityMention, Passage, RetrievalResult


THRESHOLDS_FILE = "chat-support.json"
DEFAULT_THRESHOLD = 0.8
LEXICAL_WEIGHT = 0.85  # the rest is dense cosine, when the retriever reports it
MAX_PASSAGES = 3  # per entity: enough for a long section, few enough for a compact prompt

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
}
# Words that may follow a name without making it another entity's name ("高血压患者", "布洛芬片").
_AFTER_NAME_OK = re.compile(
    r"^(的|和|与|跟|及|或|能|可|是|有|会|怎|吃|用|对|在|治|为|要|不|吗|呢|么|了|一|多|什|哪|啥|几|副|孕|儿|老|过|"
    r"患者|病人|病友|病史|发作|期间|时候|时|后|前|期|人|药|类|等|引起|导致|相关|还|也|就|都|这|那|吧|啊|呀|"
    r"片|粒|胶囊|颗粒|口服液|缓释|肠溶|注射|混悬|软膏|乳膏|滴|喷|糖浆|丸|散|剂|贴|栓|的话|怎么|如何|应该|需要|每|这个|那个|"
    r"禁忌|适应|用法|用量|不良|成份|成分|症状|检查|就诊|科室|并发|病因|预防|治疗|饮食|护理|说明|作用|功效)")
_HAN = re.compile(r"[\u4e00-\u9fff]+")
_WORD = re.compile(r"[\w\u4e00-\u9fff]")
# How drug and disease names end: glued characters that end like this make another name.
_NAME_END = re.compile(r"(片|胶囊|颗粒|注射液|口服液|丸|散|膏|剂|液|钾|钠|钙|镁|锌|铁|酸|盐|素|醇|酮|胺|嗪|唑|啶|林|霉|肽|韦|"
                       r"尼|单抗|炎|病|症|癌|瘤|综合征|感染|损伤|结石|中毒|综合症|畸形|缺乏|障碍|衰竭|梗死|出血|囊肿|溃疡)$")
_ASKING = re.compile(
    r"(请问|请|一下|我想|想知道|想问|问一下|告诉我|知道|了解|是什么|是啥|有哪些|有什么|哪些|什么|怎么样|怎么|如何|"
    r"得了|患了|患有|去医院|医院|服用|吃了|用了|怀疑|早期|大吗|好吗|好|治疗|做|查|看|挂|"
    r"怎样|为什么|可以|能不能|能否|能|会不会|会|是否|吗|呢|吧|啊|呀|的|了|是|有|和|与|及|我|你|他|她|它|谁|"
    r"多少|多久|几|哪|要|需要|应该|不|没|就|都|还|也|又|这|那|个|种|些|给|对|在|用|吃)"
)
ASKING_WORDS = set(_ASKING.pattern.strip("()").split("|")) | {"一起", "什么样", "多长时间", "还是", "需不需要",
                                                              "怎样才能", "如何才能", "才能", "应该"}


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
    entities: list[EntityMention] = field(default_factory=list)  # one chosen entity per name in the question
    intent: str | None = None
    suggestion: str = ""  # for a refusal: what the user could ask instead
    scores: list[dict] = field(default_factory=list)  # per-hit support scores, for the debug tab


# Ways people ask about a drug that name no section ("甲硝唑吃了能喝酒吗", "吃阿莫西林会拉肚子吗"): used only
# when a drug is named and the retriever's intent cues found nothing.
DRUG_QUESTIONS: tuple[tuple[tuple[str, ...], re.Pattern], ...] = (
    (("注意事项", "药物相互作用", "禁忌"), re.compile(r"(喝酒|饮酒|酒精|喝了酒|喝点酒|抽烟|吸烟|开车|驾驶)")),
    (("用法用量",), re.compile(r"(怎么冲|冲服|冲泡|怎么泡|泡水|怎么喷|怎么涂|怎么擦|用多久|吃多久|多长时间吃)")),
    (("不良反应",), re.compile(r"(会[^，。？?！!]{1,8}(吗|么|不)|犯困|嗜睡|掉头发|伤肾|伤肝|依赖|成瘾|上瘾|发胖|长胖)")),
    (("禁忌", "注意事项"), re.compile(r"(能|可以|可不可以|能不能)(吃|用|服|喝)")),
)
DRUG_SECTIONS = {"适应症", "用法用量", "不良反应", "禁忌", "注意事项", "药物相互作用", "孕妇及哺乳期妇女用药",
                 "儿童用药", "老年用药", "成份", "规格", "贮藏", "药理毒理", "药代动力学", "药物过量", "性状", "有效期"}


def refine(question: str, result: RetrievalResult) -> None:
    """When a drug is named: read the drug questions above, and drop other mentions for a drug section
    ("吃阿莫西林会拉肚子吗" links 拉肚子 to 急性腹泻, but asks about 阿莫西林's side effects)."""
    drugs = [m for m in result.entities if m.entity_type == "drug"]
    if not drugs:
        return
    if not result.intents:
        for sections, pattern in DRUG_QUESTIONS:
            if pattern.search(question):
                result.intents = list(sections)
                break
    if result.intents and result.intents[0] in DRUG_SECTIONS:
        result.entities = drugs


def choose_entities(result: RetrievalResult) -> list[EntityMention]:
    """One entity per name in the question, in question order: a bare name ("布洛芬") links several
    products; the one retrieval ranked highest comes first (see `alternatives` for the others)."""
    return [group[0] for group in mention_groups(result)]


def mention_groups(result: RetrievalResult) -> list[list[EntityMention]]:
    """The linked entities grouped by the name in the question, each group best-ranked first."""
    rank = {}
    for hit in result.hits:
        rank.setdefault(hit.passage.entity_id, hit.rank)
    groups: dict[tuple[int, int], list[EntityMention]] = {}
    for m in result.entities:
        if m.entity_type in OVERVIEW:
            groups.setdefault((m.start, m.end), []).append(m)
    out, seen = [], set()
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda m: (rank.get(m.entity_id, 10**6), m.entity_id))
        group = [m for m in group if m.entity_id not in seen]
        if group:
            seen.add(group[0].entity_id)
            out.append(group)
    return out


def _weak(m: EntityMention) -> bool:
    """A short stem of a longer product name ("太阳" for 太阳膏), not the entity's name itself."""
    return len(m.surface) <= 2 and m.surface != m.entity_name and m.entity_type == "drug"


def contained_name(question: str, result: RetrievalResult, cues: re.Pattern | None, cut=None) -> list[EntityMention]:
    """A retrieved entity most of whose name the question spells out and that is all the question is
    about ("华法林" for 华法林钠片, "阿托伐他汀" for 阿托伐他汀钙片): people drop salts and dosage forms
    the linker may not know. "尼帕病毒感染" shares only "病毒感染" with 新型冠状病毒感染: no."""
    for hit in result.hits:
        p = hit.passage
        if p.entity_type not in OVERVIEW:
            continue
        span = _longest_common(question, p.entity_name)
        core = re.sub(r"(片|胶囊|颗粒|注射液|口服液|散|丸|膏|剂|液)$", "", p.entity_name)
        if len(span) < 3 or len(span) < 0.6 * len(core):
            continue
        start = question.find(span)
        mention = EntityMention(span, start, start + len(span), p.entity_id, p.entity_type, p.entity_name)
        if sum(len(run) for run in _HAN.findall(residue(question, [mention], cues, cut))) <= 1:
            return [mention]
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


# Words that end whatever stands before a name ("得了", "孕妇", "吃"): what is left, glued to the name, is
# part of a longer name ("嗜酸性" + 食管炎, "自身免疫性" + 脑炎), which makes it another disease.
_BEFORE_NAME_STOP = re.compile(
    r"(的|了|是|得|患|有|我|你|他|她|和|与|跟|及|或|在|对|吃|用|服|喝|做|查|治|防|因|为|说|问|请|想|把|被|给|从|"
    r"孕妇|老人|小孩|孩子|宝宝|儿童|婴儿|老年人|病人|患者|女性|男性|妈妈|爸爸|老公|老婆|朋友|家人|最近|一直|经常|"
    r"这种|这个|那种|一种|常见|普通|轻微|轻度|严重|什么|怎么|如何|哪些|哪种|为什么|怀疑|诊断|确诊|禁用|慎用|避免|预防|"
    r"服用|使用|注射|口服|外用|治疗|检查|得了|患了|患有)")


def glued_prefix(question: str, mention: EntityMention, cues: re.Pattern | None = None) -> str | None:
    """The longer name the mention ends, when characters before it name something else (see above)."""
    run = re.search(r"[\u4e00-\u9fffA-Za-z0-9\-]+$", question[: mention.start])
    if not run:
        return None
    text = run.group(0)
    ends = [m.end() for m in _BEFORE_NAME_STOP.finditer(text)]
    if cues is not None:
        ends += [m.end() for m in cues.finditer(text)]
    glued = text[max(ends):] if ends else text
    return glued + mention.surface if len(glued) >= 2 else None


def glued_name(question: str, mention: EntityMention, cues: re.Pattern | None = None) -> str | None:
    """The longer name the mention is part of, when characters glued to it name something else
    (the glued part ends where an asking word or an intent cue begins: "肺炎挂什么科" glues nothing)."""
    after = _HAN.match(question, mention.end)
    if not after:
        return None
    tail = after.group(0)
    if len(tail) < 2 or _AFTER_NAME_OK.match(tail):
        return None
    ends = [m.start() for m in (re.search(r"(的|和|与|跟|及|能|可|是|有|会|怎|吃|用|对|在|治|为|要|吗|呢|么|了|"
                                          r"什么|哪|几|多少|如何)", tail),
                                cues.search(tail) if cues is not None else None) if m]
    glued = tail[: min(ends)] if ends else tail
    return mention.surface + glued if len(glued) >= 2 and _NAME_END.search(glued) else None


def residue(question: str, mentions: list[EntityMention], cues: re.Pattern | None, cut=None) -> str:
    """What the question is about once names, intent cues and asking words are taken out.

    `cut` splits text into words (the retriever's jieba, which knows the KB's names): asking words are then
    removed as whole words, so the "他" of 阿托伐他汀 stays. Without it, they are removed as substrings."""
    chars = list(question)
    for m in mentions:
        chars[m.start:m.end] = [" "] * (m.end - m.start)
    text = "".join(chars)
    if cues is not None:
        text = cues.sub(" ", text)
    if cut is None:
        return _ASKING.sub(" ", text)
    words: list[str] = []
    glue = False  # jieba cuts a name it does not know into characters ("人/偏/肺"): put them back together
    for w in cut(text):
        if not w.strip() or w in ASKING_WORDS or not _WORD.search(w):
            glue = False
            continue
        if len(w) == 1 and glue and len(words[-1]) < 8:
            words[-1] += w
        else:
            words.append(w)
        glue = len(w) == 1
    # a single character left between cues ("大" of "副作用大吗") says nothing about the topic
    return " ".join(w for w in words if len(w) > 1)


def support_score(about: str, passage: Passage, dense: float | None = None) -> float:
    """How well a passage covers what the question is about: the share of its words (by characters)
    that the passage contains whole, blended with the dense cosine when there is one. Whole words, not
    bigrams: "尼帕 病毒感染" must not pass on "病毒感染" alone."""
    words = [w for w in _norm(about).split() if len(w) >= 2]
    if not words:
        return 0.0
    text = _norm(passage.entity_name + " " + passage.text)
    lexical = sum(len(w) for w in words if w in text) / sum(len(w) for w in words)
    if dense is None:
        return lexical
    return LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * max(0.0, dense)


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def check_support(question: str, result: RetrievalResult, passages_of, thresholds: Thresholds,
                  cues: re.Pattern | None = None, overview: tuple[str, ...] = (), cut=None) -> Support:
    """Decide what (if anything) supports an answer; see the module docstring.

    `passages_of(entity_id, section)` gives an entity's passages of a section, in chunk order."""
    refine(question, result)
    intents = list(result.intents)
    if len(intents) > 1 and intents[0] == "概述":  # "是什么" is in most questions; a specific cue wins
        intents = intents[1:] + intents[:1]
    intent = intents[0] if intents else None
    entities = choose_entities(result) or contained_name(question, result, cues, cut)
    for m in entities:
        longer = glued_prefix(question, m, cues) or glued_name(question, m, cues)
        if longer:
            return Support(False, [], f"「{longer}」 is not in the KB (only 「{m.entity_name}」 is)", entities=entities,
                           intent=intent, suggestion=f"知识库中没有「{longer}」；如果您想问的是「{m.entity_name}」，"
                                                     f"请直接用这个名称提问。")
    if entities and not intents and all(_weak(m) for m in entities):
        # "太阳系有几颗行星" links "太阳" (the bare name of 太阳膏): a two-character product stem with
        # nothing asked about it is too weak to answer on
        m = entities[0]
        return Support(False, [], f"only the weak mention 「{m.surface}」 of {m.entity_name}", 0.0, entities, intent,
                       suggestion=f"如果您想问「{m.entity_name}」，请写出完整名称和想了解的内容（如适应症、用法用量）。")
    if entities:
        passages, missing = [], []
        alternatives = {g[0].entity_id: g for g in mention_groups(result)}
        for i, m in enumerate(entities):
            # a bare name links several products ("头孢克肟" -> 胶囊, 片, 颗粒): the first that has the section
            for candidate in alternatives.get(m.entity_id, [m]):
                found = _entity_passages(candidate, intents, result, passages_of, overview)
                if found:
                    passages += found
                    entities[i] = candidate
                    break
            else:
                missing.append(m)
        if passages:
            return Support(True, passages, "entity+section" if intents else "entity overview", 1.0,
                           entities, intent)
        m = missing[0]
        have = [s for s in _ALL_SECTIONS.get(m.entity_type, ()) if passages_of(m.entity_id, s)]
        return Support(False, [], f"{m.entity_name} has no {'/'.join(intents[:2])} in the KB", 0.0, entities, intent,
                       suggestion=(f"知识库中「{m.entity_name}」没有关于{'、'.join(intents[:1])}的内容"
                                   + (f"；可以问它的{'、'.join(have[:5])}。" if have else "。")))
    about = residue(question, [], cues, cut)
    scored = []
    for hit in result.hits:
        dense = hit.channel_scores.get("dense")
        scored.append((support_score(about, hit.passage, dense), hit))
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
                   suggestion="可以换个说法，或直接问知识库中的药品、疾病或检查，例如「阿莫西林的用法用量」"
                              "「高血压挂什么科」；身体不适请咨询医生或药师。")


_ALL_SECTIONS = {
    "drug": ("适应症", "用法用量", "不良反应", "禁忌", "注意事项", "药物相互作用", "孕妇及哺乳期妇女用药", "儿童用药",
             "老年用药", "成份", "规格", "贮藏"),
    "disease": ("概述", "症状", "病因", "检查", "常用药物", "就诊科室", "并发症", "预防", "治疗方式", "饮食"),
    "exam": ("概述", "临床意义", "正常值", "检查项目", "注意事项", "相关疾病"),
}


def _entity_passages(m: EntityMention, intents: list[str], result: RetrievalResult, passages_of,
                     overview: tuple[str, ...] = ()) -> list[Passage]:
    """The entity's passages of the first asked section it has; without an intent, its overview
    (`overview` sections first: the pipeline puts 禁忌 there when the patient has an allergy)."""
    sections = list(dict.fromkeys([*intents, *(s for i in intents[:1] for s in FALLBACK.get(i, ()))])) if intents \
        else list(dict.fromkeys([*overview, *OVERVIEW[m.entity_type]]))
    for section in sections:
        found = passages_of(m.entity_id, section)
        if found:
            return section_passages(found, result)
    return []


def section_passages(found: list[Passage], result: RetrievalResult) -> list[Passage]:
    """The passages of one section worth quoting, at most MAX_PASSAGES.

    A label section is stored both as text and as the list of items extracted from it; quoting both says
    everything twice, so text wins. A disease list (症状: items, then detail text) keeps its list first.
    Among text chunks the ones retrieval ranked come first: they match the question best."""
    texts = [p for p in found if not p.items]
    lists = [p for p in found if p.items]
    if lists and found[0].items:  # list-first section: the list, then one paragraph of detail
        chosen = lists[:MAX_PASSAGES - 1] + texts[:1]
    else:
        ranked = {h.passage.id for h in result.hits}
        texts = sorted(texts or lists, key=lambda p: (p.id not in ranked, p.chunk))
        chosen = sorted(texts[:MAX_PASSAGES], key=lambda p: p.chunk)
    return chosen
