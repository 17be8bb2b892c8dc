"""Query analysis: what a message is about and what it asks, decided once, read-only afterwards.

    analysis = retriever.analyze("我有慢性胃炎，最近胃胀、没有反酸，胃苏颗粒能吃吗？")
    analysis.topics    -> the KB entities the message asks about (慢性胃炎 here: the KB has no 胃苏颗粒)
    analysis.intents   -> the sections asked, read from the asking clause ("能吃吗": 禁忌, 注意事项)
    analysis.present / .absent -> findings reported (胃胀) and denied (反酸): a denied finding is never a topic
    analysis.unknown   -> names the KB lacks, glued to a name it has ("胃苏颗粒")
    analysis.kind      -> "entity" (asks about a named thing), "findings" (describes symptoms), "which_disease",
                          or "open" (names nothing the KB knows)

Everything downstream (retrieval channels and fusion weights, the chat's support check, inquiry and
sentence selection) reads this object and never changes it. Rules, in the order they apply:

- Linking: KB names and aliases (the colloquial-name list is KB data: 羊羔疯 -> 癫痫), longest match;
  a near-miss spelling of a name of four or more characters links too and is reported in `corrected`
  ("复方甲氧那名" -> 复方甲氧那明: the answer says "您是不是指…").
- A mention inside "我在吃…" is a drug the patient takes (`taking`), context for safety, not the topic,
  unless nothing else is asked about.
- A disease mention that is a symptom word ("头痛", "腹泻") and is denied ("不腹泻") or only described
  with "怎么办" is a finding, not a topic.
- Glue: characters stuck to a name can make another name. Around a drug ("阿莫西林" + "克拉维酸钾",
  "阿兹" + "夫定") they make another product: the mention is dropped and the longer name reported as
  unknown (a dose of the wrong product is worse than none). Before a disease, a group or stage word
  ("小儿", "急性", "二型") narrows it: the broader entry is still the topic and the answer says so
  (`broader`); other name-like characters ("尼帕" + 病毒感染, "嗜酸性" + 食管炎) make another disease
  the KB lacks, which is not answered with its broad parent. Numbers, measure words, times and people
  ("两片丙戊酸钠", "男54近几个月小便", "周四去卫生") glue nothing.
- Intents come from the asking clauses (those with a question mark or a question word), so words of
  the story ("去检查了", "孩子") do not turn into sections; a specific cue beats a general one
  ("手术要多少钱" asks 治疗费用).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.records import DRUG_SECTIONS, ENTITY_TYPES
from retriever.hits import EntityMention
from retriever.intent import asks_which_disease, detect_intent, drug_question_intents
from retriever.linking import DOSAGE_FORMS, mask_mentions
from retriever.symptoms import Finding, SymptomIndex
from retriever.words import (ASKING_BEFORE, ASKING_WORDS, BEFORE_NAME_STOP, BODY_SITE, EXERCISE, GENERAL_FOCUS, HAN,
                             NON_NAME_GLUE, RULED_OUT_AFTER, TAKING, WONDERED_BEFORE, WORD_CHAR, asking_pattern,
                             denial_alternation, is_asking_clause)

# A name is denied when a denial word (`retriever.words.DENIAL_WORDS`) stands right before it, one character apart at most.
_NEGATED = re.compile(denial_alternation() + r"[^，。,；;、]{0,1}$")
# Endings of a name part: what is glued after a drug and ends like this is another product's name.
_PRODUCT_END = re.compile(r"(片|胶囊|颗粒|注射液|口服液|丸|散|膏|剂|液|钾|钠|钙|镁|锌|铁|酸|盐|素|醇|酮|胺|嗪|唑|啶|林|"
                          r"霉|肽|韦|尼|单抗|水|茶|冲剂)$")
# One character after a drug's name that makes another herbal material of it ("仙灵" + 子, "桃" + 仁): a product too.
_HERB_PART = re.compile(r"(子|仁|草|根|藤|果|叶|花|皮)$")
_FORM_FIRST = re.compile("(缓释|控释|肠溶|分散|咀嚼|泡腾|口腔崩解|薄膜衣|" + "|".join(DOSAGE_FORMS) + ")")
# A modifier that makes a narrower disease: "反流性", "二型", "急性" (when the KB lacks the longer name).
_MODIFIER = re.compile(r"(小儿|儿童|婴幼儿|婴儿|新生儿|成人|老年|老年人|孕期|妊娠期|早期|晚期|中期|初期|末期|轻度|中度|重度|"
                       r"急性|慢性|亚急性|先天性|原发性|继发性|复发性|顽固性|难治性|反复|一期|二期|三期|四期|"
                       r"遗传性|家族性|家族|夜间|[一二三四1234]级|突发|突发性|中老年|中年|青少年|局限性|全身性|单纯性|"
                       r"[一二三12ⅠⅡIi]+型)$")
# A value right after a name: "孕酮15.3", "孕酮 是 15.3ng/ml", "血钾：3.1".
_VALUE_AFTER = re.compile(r"\s*(值|水平|结果)?\s*(也|才|只|仅)?\s*(只有|才|是|为|有|[:：=])?\s*[<>≤≥]?\s*"
                          r"(\d|[一二两三四五六七八九十][一二三四五六七八九十百]*点[零一二三四五六七八九])")  # (十五点三)
# What glued after a disease name starts another disease ("视神经脊髓炎" + "谱系疾病").
_NEW_DISEASE_END = re.compile(r"(病|疾病|综合征|综合症)$")
# After a drug's short name, a word that makes it a kind of treatment: "抗病毒治疗", "抗生素疗法", "降压药物".
# Around an exam's name, what says it was done and what it showed ("检查了" before, "发现", "正常" after).
_EXAM_NAME = re.compile(r"(检查|镜|造影|B超|彩超|CT|MRI|化验|常规|检测)$")  # (a crawl types some exams as diseases)
_EXAM_DONE_BEFORE = re.compile(r"(做了|查了|检查了|做过|查过|复查了)$")
_EXAM_SHOWED_AFTER = re.compile(r"[^。？?]{0,10}?(发现|显示|提示|结果|报告|正常|未见|没有异常|无异常|说)")
_KIND_OF_TREATMENT = re.compile(r"(治疗|救治|疗法|方案|药物|类药)")
_CLASS_WORD = re.compile(r"^[抗降消止镇][\u4e00-\u9fff]{1,3}$")  # 抗病毒, 抗生素, 降压, 消炎, 止痛
_CLAUSE = re.compile(r"[^。！？!?；;，,\n]+[。！？!?；;，,\n]*")
# How the names of diagnoses end (高血压, 肝硬化, 糖尿病): listed as a "symptom" of other diseases, they are
# still what a patient has, not what they feel (头痛, 腹泻, 胃胀).
_DIAGNOSIS = re.compile(r"(病|炎|症|癌|瘤|综合征|硬化|压|结石|溃疡|不全|衰竭|梗死|梗塞|中毒|感染|囊肿|增生|息肉|肝|疝|瘫|阳)$")
# Someone is describing their own or a relative's complaint, or how long it has lasted.
_PATIENT = re.compile(r"我|俺|孩子|宝宝|儿子|女儿|老公|老婆|丈夫|妻子|妈|爸|父亲|母亲|爷爷|奶奶|老人|家人|亲戚|朋友|患者|病人|"
                      r"最近|这几天|这段时间|一直|经常|总是|老是|[0-9一二两三四五六七八九十几半]+\s*(个)?(天|周|星期|月|年|小时)|"
                      r"怎么办|怎么回事|什么病|什么原因|要紧吗|严重吗|怎么治|吃什么药")
_GREETING = re.compile(r"您好|你好|谢谢|多谢|请问|麻烦|打扰")
POPULATION_SECTIONS = ("孕妇及哺乳期妇女用药", "儿童用药", "老年用药")
_TAKE = re.compile(r"(能|可以|可不可以|能不能|是否|可否|适合|敢)(吃|用|服|喝|打|涂)|用药|吃药|服药|剂量|用量|怎么吃|怎么用|吃多少|禁用|慎用")
# A specific cue in the same clause beats these: "手术要多少钱" asks 治疗费用, "饮食要注意什么" asks 饮食.
_GENERAL_CUES = re.compile(r"怎么办|咋办|注意什么|要注意|需要注意|注意点|手术|怎么回事|是什么|缓解")


@dataclass(frozen=True)
class QueryAnalysis:
    """The read-only result of analysing one message (see the module docstring)."""

    question: str
    mentions: tuple[EntityMention, ...] = ()  # everything linked, every candidate entity of each name
    topics: tuple[EntityMention, ...] = ()  # what is asked about (candidates of one name share a span)
    intents: tuple[str, ...] = ()  # asked sections, most likely first
    findings: tuple[Finding, ...] = ()
    kind: str = "open"  # "entity" | "findings" | "which_disease" | "open"
    taking: tuple[EntityMention, ...] = ()  # drugs the patient says they take
    unknown: tuple[str, ...] = ()  # names the KB lacks, glued to a KB name
    broader: tuple[tuple[str, str], ...] = ()  # (narrower name asked, KB entry used instead)
    corrected: tuple[tuple[str, str], ...] = ()  # (as written, KB name) for near-miss spellings
    parts: tuple[str, ...] = ()  # the asking clauses, in order
    about: str = ""  # the words left once cues and asking words are removed (for support scores and focus)
    focus: tuple[str, ...] = ()  # what the asking clauses ask about besides names and cues ("冷水浴", "空腹")
    notes: tuple[str, ...] = field(default=())  # why, for `retriever debug`

    @property
    def present(self) -> list[str]:
        return list(dict.fromkeys(f.term for f in self.findings if f.present))

    @property
    def absent(self) -> list[str]:
        present = set(self.present)
        return list(dict.fromkeys(f.term for f in self.findings if not f.present and f.term not in present))

    def to_json(self) -> dict:
        return {"kind": self.kind, "intents": list(self.intents),
                "topics": [f"{m.surface}->{m.entity_name}" for m in self.topics],
                "taking": [m.entity_name for m in self.taking], "present": self.present, "absent": self.absent,
                "unknown": list(self.unknown), "broader": [list(b) for b in self.broader],
                "corrected": [list(c) for c in self.corrected], "parts": list(self.parts), "about": self.about,
                "focus": list(self.focus),
                "notes": list(self.notes)}


# "头晕乏力，是贫血吗", "是不是糖尿病": the person asks whether what they describe is this disease
_HYPOTHESIS_BEFORE = re.compile(r"(是不是|是否是?|会不会是|可能是|是)$")
_HYPOTHESIS_AFTER = re.compile(r"^(吗|么|嘛|啊|呢|[？?]|的症状|的表现|引起)")


def is_hypothesis(question: str, m: EntityMention) -> bool:
    """Whether the message asks if its description is `m` (a name that is also a symptom word stays a topic)."""
    return bool(_HYPOTHESIS_BEFORE.search(question[max(0, m.start - 4):m.start])
                and _HYPOTHESIS_AFTER.match(question[m.end:]))


def analyze(question: str, mentions: list[EntityMention], symptoms: SymptomIndex | None, cut=None,
            corrected: tuple[tuple[str, str], ...] = (), common=lambda word: False) -> QueryAnalysis:
    """The analysis of `question` given its linked `mentions` (`EntityLinker.link`, fuzzy matches
    included), the index's findings vocabulary, the tokenizer's `cut` (for the residue) and `common(word)`:
    whether a word is too common to be what a question is about (jieba's frequency; "经常", "一种").

    The decisions, in order; each step may add a line to `notes` saying why."""
    notes: list[str] = []
    mentions = _kept_mentions(question, mentions, cut)
    findings = _outside_names(question, symptoms, mentions, notes)
    taking = _taking(question, mentions)
    topics, unknown = _not_taken_measured_or_guessed(question, mentions, taking, corrected, notes)
    topics = _not_denied(question, topics, findings, notes)
    glue = _read_glue(question, topics, mentions, findings, symptoms, notes)
    topics, unknown = glue.topics, unknown + glue.unknown
    masked = mask_mentions(question, mentions)
    asking = _asking_clauses(question)
    parts = tuple(question[a:b].strip() for a, b in asking)
    topics = _asked_topics(question, topics, asking, glue.other_products, notes)
    topics = _without_umbrella(question, topics, notes)
    intents = _intents(masked, question, parts, _types(topics) or _types(taking))
    topics, intents = _without_weak(topics, intents, findings, masked, question, parts, notes)
    topics = _drugs_when_drug_section(topics, intents)
    topics, taking = _taken_when_nothing_else(topics, taking, intents)
    topics, taking = _story_drugs_taken(topics, taking, parts, findings, intents, notes)
    topics = _unless_description(question, topics, findings, intents, symptoms, notes)
    kind = _kind(question, masked, mentions, topics, findings, unknown)
    return QueryAnalysis(
        question=question, mentions=tuple(mentions), topics=tuple(topics), intents=tuple(intents),
        findings=findings, kind=kind, taking=tuple(taking), unknown=_longest(unknown),
        broader=_broadest(glue.broader), corrected=tuple(corrected), parts=parts,
        about=residue(question, [], cut), focus=_focus(question, asking, mentions, cut, common), notes=tuple(notes))


def _kept_mentions(question: str, mentions: list[EntityMention], cut=None) -> list[EntityMention]:
    """The mentions that can be topics: of a topic type, not inside a greeting, and a two-character drug name
    only where the text has a word boundary on both sides ("前几天可能" does not name the drug 天可)."""
    greetings = [g.span() for g in _GREETING.finditer(question)]  # "您好医生" does not name the product 好医生
    bounds = _word_bounds(question, cut)
    return [m for m in mentions if m.entity_type in ENTITY_TYPES
            and not any(a < m.end and m.start < b for a, b in greetings)
            and not (m.entity_type == "drug" and len(m.surface) <= 2 and bounds is not None
                     and not (m.start in bounds and m.end in bounds))]


def _word_bounds(question: str, cut) -> set[int] | None:
    """Where the tokenizer's words of `question` begin and end (None without a tokenizer)."""
    if cut is None:
        return None
    bounds, at = {0}, 0
    for word in cut(question):
        at += len(word)
        bounds.add(at)
    return bounds


def _outside_names(question: str, symptoms: SymptomIndex | None, mentions: list[EntityMention],
                   notes: list[str]) -> tuple[Finding, ...]:
    """The findings of `question`, less those written inside a longer disease name it names: "糜烂性胃炎的治疗方式"
    names a disease and reports no 糜烂. A name that is itself a complaint ("偏头痛") keeps what it holds."""
    if symptoms is None:
        return ()
    names = [m for m in mentions if m.entity_type == "disease" and not symptoms.is_symptom(m.surface)]
    kept = []
    for f in symptoms.findings(question):
        inside = next((m for m in names if m.start <= f.start and f.end <= m.end and m.end - m.start > f.end - f.start),
                      None)
        if inside is None:
            kept.append(f)
        else:
            notes.append(f"「{question[f.start:f.end]}」 is part of the name {inside.surface}: not a finding")
    return tuple(kept)


def _not_taken_measured_or_guessed(question: str, mentions: list[EntityMention], taking: list[EntityMention],
                                   corrected: tuple[tuple[str, str], ...],
                                   notes: list[str]) -> tuple[list[EntityMention], list[str]]:
    """The first topics: the mentions less the drugs taken, the drugs followed by a value and the drugs
    guessed from a near-miss spelling; and the first unknown names (those guessed drugs' surfaces)."""
    # a drug written one character off is only suggested ("您是不是指…"): another drug's label is worse than none
    guessed = {(m.surface, m.start) for m in mentions if (m.surface, m.entity_name) in corrected}
    # "孕酮15.3", "血糖是8.2": a value read off a report, not the drug of the same name
    measured = [m for m in mentions if m.entity_type == "drug" and _VALUE_AFTER.match(question, m.end)]
    notes += [f"「{m.surface}」 is followed by a value: a result, not the drug" for m in measured]
    topics = [m for m in mentions if m not in taking and m not in measured
              and not (m.entity_type == "drug" and (m.surface, m.start) in guessed)]
    unknown = [m.surface for m in mentions if m.entity_type == "drug" and (m.surface, m.start) in guessed]
    return topics, unknown


def _not_denied(question: str, topics: list[EntityMention], findings: tuple[Finding, ...],
                notes: list[str]) -> list[EntityMention]:
    """The topics less the diseases denied: inside a denied finding, or right after a denial word that is
    not part of asking ("是不是没有…")."""
    # denied findings are not topics ("不咳嗽" does not ask about 咳嗽); neither is a symptom-word disease
    denied = [f for f in findings if not f.present]
    kept = []
    for m in topics:
        if m.entity_type == "disease" and (any(f.start <= m.start and m.end <= f.end for f in denied)
                                           or _NEGATED.search(question[max(0, m.start - 3):m.start])
                                           and not ASKING_BEFORE.search(question[max(0, m.start - 6):m.start])
                                           or RULED_OUT_AFTER.match(question, m.end)):
            notes.append(f"「{m.surface}」 is denied: a finding, not a topic")
            continue
        kept.append(m)
    return kept


@dataclass
class _Glue:
    """What the characters glued to the topics made of them (see `_read_glue`)."""

    topics: list[EntityMention] = field(default_factory=list)  # the topics kept
    unknown: list[str] = field(default_factory=list)  # other products and diseases the KB lacks
    broader: list[tuple[str, str]] = field(default_factory=list)  # (narrower name asked, KB entry used instead)
    glued_ends: set[int] = field(default_factory=set)  # ends of names that were themselves glued
    other_products: list[int] = field(default_factory=list)  # ends of drug names that are another product


def _read_glue(question: str, topics: list[EntityMention], mentions: list[EntityMention],
               findings: tuple[Finding, ...], symptoms: SymptomIndex | None, notes: list[str]) -> _Glue:
    """Which topics stay once the characters stuck before and after each name are read (`_glue_keeps`);
    a short drug alias and a symptom word are kept as they are."""
    glue = _Glue()
    spans = sorted({(m.start, m.end) for m in mentions})
    named = {m.entity_id for m in topics if m.entity_type == "disease" and m.surface == m.entity_name}
    for m in topics:
        if m.entity_type == "drug" and _CLASS_WORD.match(m.surface) and _KIND_OF_TREATMENT.match(question, m.end):
            notes += [] if any(m.surface in n for n in notes) else [f"「{m.surface}」 names a kind of treatment here"]
            continue  # "抗病毒" + 治疗: not a product
        if named - {m.entity_id} and m.entity_type == "disease" and m.surface != m.entity_name \
                and (_symptom_word(m, symptoms) or len(m.surface) == 2 and m.surface[0] == m.surface[1]):
            # "说是传染性软疣…长了小痘痘": the disease named decides; an everyday word for what is seen (痘痘 ->
            # 痤疮) is a finding of it, not a second disease
            notes.append(f"「{m.surface}」 is a finding of the disease named, not {m.entity_name}")
            continue
        if is_weak(m) or _symptom_word(m, symptoms):
            glue.topics.append(m)  # "两个月前腹痛": a symptom word is a finding; what stands before it names nothing
            continue
        after = _glued_after(question, m, spans)
        # before a name, stop at the previous name unless that one was itself glued ("人偏|肺病|毒感染"), and
        # at a finding ("胃胀" + 干呕 are two words of a description)
        before = _glued_before(question, m, [sp for sp in spans if sp[1] not in glue.glued_ends]
                               + [(f.start, f.end) for f in findings if f.end <= m.start])
        if _glue_keeps(m, before, after, glue, notes):
            glue.topics.append(m)
    return glue


def _glue_keeps(m: EntityMention, before: str, after: str, glue: _Glue, notes: list[str]) -> bool:
    """Whether `m` stays a topic with `before` and `after` stuck to it. Records in `glue` another product
    (a drug with a product's ending after it, or anything before it), another disease (a disease ending
    after, name-like characters before) or a narrower disease whose broader entry answers (a modifier before)."""
    if after and m.entity_type == "drug" and (_PRODUCT_END.search(after) or _HERB_PART.fullmatch(after)) \
            or before and m.entity_type == "drug":
        glue.unknown.append(before + m.surface + after)  # "阿莫西林" + "克拉维酸钾", "阿兹" + "夫定"
        notes.append(f"「{before}{m.surface}{after}」 is another product than {m.entity_name}")
        glue.glued_ends.add(m.end)
        glue.other_products.append(m.end)
        return False
    if after and m.entity_type == "disease" and after[0] == "性" and len(after) >= 3:
        glue.unknown.append(m.surface + after)  # "癫痫" + "性肌阵挛": what it qualifies is another condition
        notes.append(f"「{m.surface}{after}」 is another condition than {m.entity_name}")
        return False
    if after and m.entity_type != "drug" and len(after) >= 3 and _NEW_DISEASE_END.search(after):
        glue.unknown.append(m.surface + after)  # "视神经脊髓炎" + "谱系疾病": another disease
        notes.append(f"「{m.surface}{after}」 is another disease than {m.entity_name}")
        return False
    if after and m.entity_type == "disease" and _PRODUCT_END.search(after) and len(after) >= 3:
        # "慢性胃炎" + "胃苏颗粒" (a product the KB lacks): said, the rest answered. After an exam what follows
        # is one of its items ("肝功能" + "中胆红素"), not a product
        glue.unknown.append(after)
    if before and m.entity_type == "disease":
        if _MODIFIER.search(before):
            # "小儿" + 手足口病, "先天性" + 高血压: the broader entry answers, and the answer says so
            glue.broader.append((before + m.surface, m.entity_name))
        else:
            # "尼帕" + 病毒感染, "自身免疫性" + 脑炎: another disease the KB lacks, not its broad parent
            glue.unknown.append(before + m.surface)
            notes.append(f"「{before}{m.surface}」 is another disease than {m.entity_name}")
            glue.glued_ends.add(m.end)
            return False
    return True


def _asking_clauses(question: str) -> list[tuple[int, int]]:
    """The spans of the clauses that ask (a question mark or a question word), in order."""
    return [c.span() for c in _CLAUSE.finditer(question) if is_asking_clause(c.group(0))]


def _asked_topics(question: str, topics: list[EntityMention], asking: list[tuple[int, int]], other_products: list[int],
                  notes: list[str]) -> list[EntityMention]:
    """The topics named in the asking clauses when there are any; none when what is asked about is a
    product the KB lacks; otherwise all of them."""
    # the names of the asking clauses are the topics when there are any: "我有高血压，…，胃苏颗粒能吃吗"
    # asks about 胃苏颗粒; 高血压 stays in the question's words (a focus for choosing sentences)
    asked = [m for m in topics if any(a <= m.start < b for a, b in asking)]
    if asked:
        notes += [f"「{m.surface}」 is only in the story" for m in topics if m not in asked]
        return asked
    # an exam the story tells was done ("检查了血常规…都正常", "胃镜检查发现…息肉") is how it was found, not what is
    # asked about: what it found, or the disease named beside it, is
    means = [m for m in topics if (m.entity_type == "exam" or _EXAM_NAME.search(m.entity_name)) and asking and not any(a <= m.start < b for a, b in asking)
             and (_EXAM_DONE_BEFORE.search(question[max(0, m.start - 4):m.start])
                  or _EXAM_SHOWED_AFTER.match(question, m.end))]
    if means:
        notes += [f"「{m.surface}」 is an exam the story tells was done" for m in means]
        topics = [m for m in topics if m not in means]
    if any(a <= end <= b for end in other_products for a, b in asking):
        # "我一直拉肚子，阿莫西林克拉维酸钾能吃吗": what is asked about is a product the KB lacks; the story's
        # names are not an answer to it
        notes += [f"「{m.surface}」 is only in the story" for m in topics]
        return []
    return topics


# A disease named only by its organ ("胃病", "肝病", "心脏病"): an umbrella for many, the KB's entry for it a page
# of everything the organ suffers ("所谓胃病，实际上是许多病的统称").
_UMBRELLA = re.compile(rf"^({BODY_SITE.pattern})(脏)?病$")


def _without_umbrella(question: str, topics: list[EntityMention], notes: list[str]) -> list[EntityMention]:
    """The topics less a disease named only by its organ when a disease of that organ is told in full ("是慢性浅表性
    胃炎…胃病几年了" is about the gastritis; "胃病能引起高血压吗" is still about 胃病, and so is "是不是得了胃病…是不是
    胃炎": both are wondered, and the umbrella's entry lists what it may be)."""
    told = [o for o in topics if o.entity_type == "disease"
            and not WONDERED_BEFORE.search(question[max(0, o.start - 6):o.start])]
    umbrella = [m for m in topics if m.entity_type == "disease" and (u := _UMBRELLA.match(m.entity_name))
                and any(o.entity_id != m.entity_id and u.group(1) in o.entity_name for o in told)]
    if umbrella:
        notes += [f"「{m.surface}」 is an umbrella beside a disease named in full" for m in umbrella]
        return [m for m in topics if m not in umbrella]
    return topics


def _asks_drug_section(intents: list[str]) -> bool:
    """Whether the first section asked is a drug label's (kb.records.DRUG_SECTIONS)."""
    return bool(intents) and intents[0] in DRUG_SECTIONS


def _without_weak(topics: list[EntityMention], intents: list[str], findings: tuple[Finding, ...], masked: str,
                  question: str, parts: tuple[str, ...], notes: list[str]) -> tuple[list[EntityMention], list[str]]:
    """Unless a drug's section is asked, the topics less the short drug aliases and the products named by
    the findings they are written as, and the intents read again for the topics left."""
    weak = [m for m in topics if is_weak(m) or _said_as_findings(m, findings)]
    if weak and not _asks_drug_section(intents):
        # "小便" is an alias of the CMeKG entry 人尿: a two-character alias of a drug, with no drug section
        # asked, is a word of the story, not the drug
        notes += [f"「{m.surface}」 is only a short alias of {m.entity_name}, or the findings it is named by" for m in weak]
        topics = [m for m in topics if m not in weak]
        intents = _intents(masked, question, parts, _types(topics))
    return topics, intents


def _drugs_when_drug_section(topics: list[EntityMention], intents: list[str]) -> list[EntityMention]:
    """Only the drug topics when there is one and a drug's section is asked."""
    if topics and any(m.entity_type == "drug" for m in topics) and _asks_drug_section(intents):
        # "吃阿莫西林会拉肚子吗" links 拉肚子 too, but asks about the drug
        return [m for m in topics if m.entity_type == "drug"]
    return topics


def _taken_when_nothing_else(topics: list[EntityMention], taking: list[EntityMention],
                             intents: list[str]) -> tuple[list[EntityMention], list[EntityMention]]:
    """The drugs taken become the topics when nothing else is asked about and a section is."""
    if not topics and taking and intents:
        return taking, []  # "我在吃华法林，要注意什么": the drug taken is what is asked about
    return topics, taking


def _story_drugs_taken(topics: list[EntityMention], taking: list[EntityMention], parts: tuple[str, ...],
                       findings: tuple[Finding, ...], intents: list[str],
                       notes: list[str]) -> tuple[list[EntityMention], list[EntityMention]]:
    """In a message that asks nothing in words and tells a complaint (no drug section asked), the drug
    topics move to `taking`."""
    if not parts and any(f.present for f in findings) and not _asks_drug_section(intents):
        # a story that asks nothing in words, of a complaint, names the drug it was given as part of the story
        # ("…医生开了百多邦。但已经结痂了却还不能动"): the complaint is what it is about, the drug is taken
        given = [m for m in topics if m.entity_type == "drug"]
        if given:
            notes += [f"「{s}」 is a drug told in the story of a complaint" for s in dict.fromkeys(m.surface for m in given)]
            return [m for m in topics if m not in given], list(taking) + given
    return topics, taking


def _unless_description(question: str, topics: list[EntityMention], findings: tuple[Finding, ...],
                        intents: list[str], symptoms: SymptomIndex | None, notes: list[str]) -> list[EntityMention]:
    """No topics when they are all symptom words among two or more findings, asked nothing but treatment,
    overview or cause, and not asked as a guess ("是贫血吗"): the message describes."""
    # symptom-word diseases ("头痛、头晕") with nothing asked about them but "怎么办" describe, they do not name
    present = [f for f in findings if f.present]
    if topics and len({f.term for f in present}) >= 2 and all(_symptom_word(m, symptoms) for m in topics) \
            and set(intents) <= {"治疗方式", "概述", "病因"} and not any(is_hypothesis(question, m) for m in topics):
        notes.append("the names are symptom words with no section asked: a description")
        return []
    # beside a diagnosis the message names ("腹部疼痛…发现是得了宫颈癌"), a symptom word it describes is a finding
    described = {f.term for f in present}
    if any(not _symptom_word(m, symptoms) for m in topics):
        kept = [m for m in topics if not (_symptom_word(m, symptoms) and m.entity_name in described
                                          and not is_hypothesis(question, m))]
        if len(kept) < len(topics):
            notes.append("symptom words beside a diagnosis are findings, not topics")
        return kept
    return topics


def _kind(question: str, masked: str, mentions: list[EntityMention], topics: list[EntityMention],
          findings: tuple[Finding, ...], unknown: list[str]) -> str:
    """"which_disease", "entity" (topics left), "findings" (a description) or "open"."""
    present = [f for f in findings if f.present]
    distinct = len({m.entity_id for m in mentions})
    if asks_which_disease(masked, distinct) and (present or distinct != 1):
        return "which_disease"
    if topics:
        return "entity"
    if present and not unknown and (len({f.term for f in present}) >= 2 or _PATIENT.search(question)):
        # a description: two findings, or one said of a person or with a time ("胃胀三天了怎么办"); not
        # "为什么天空是蓝色的", and not "尼帕病毒感染吃什么药" (about a name the KB lacks)
        return "findings"
    return "open"


def _longest(unknown: list[str]) -> tuple[str, ...]:
    """The unknown names, once each, less those inside a longer one."""
    return tuple(u for u in dict.fromkeys(unknown) if not any(u != v and u in v for v in unknown))


def _broadest(broader: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """One (narrower, broader) pair per KB entry: the longest narrower name written."""
    return tuple({broad: (narrow, broad) for narrow, broad in sorted(broader, key=lambda b: -len(b[0]))}.values())


def _types(mentions) -> list[str]:
    return list(dict.fromkeys(m.entity_type for m in mentions))


def _symptom_word(m: EntityMention, symptoms: SymptomIndex | None) -> bool:
    """A disease entry named like a complaint ("头痛", "腹泻"), not a diagnosis ("高血压" is listed as a
    symptom of other diseases too, but it is what a patient has)."""
    return symptoms is not None and m.entity_type == "disease" and symptoms.is_symptom(m.surface) \
        and not _DIAGNOSIS.search(m.entity_name)


def _taking(question: str, mentions: list[EntityMention]) -> list[EntityMention]:
    """Drug mentions inside "在吃…" spans, when the message also names something else to ask about."""
    spans = [(m.start(1), m.end(1)) for m in TAKING.finditer(question)]
    inside = [m for m in mentions if m.entity_type == "drug" and any(a <= m.start < b for a, b in spans)]
    return inside if len({m.entity_id for m in mentions} - {m.entity_id for m in inside}) else []


def _glued_after(question: str, m: EntityMention, spans: list[tuple[int, int]]) -> str:
    """Han characters stuck after a name up to the next name, asking word or glue-free word: two or more, or
    one that makes a drug's name another herbal material's ("仙灵子")."""
    run = HAN.match(question, m.end)
    if not run:
        return ""
    tail = run.group(0)
    nxt = min((a for a, _ in spans if a >= m.end), default=None)
    if nxt is not None:
        tail = tail[: max(0, nxt - m.end)]
    if _FORM_FIRST.match(tail):
        return ""  # "布洛芬胶囊", "阿莫西林片": the same drug in a dosage form, not another product
    cut = NON_NAME_GLUE.search(tail)
    if cut:
        tail = tail[: cut.start()]
    return tail if len(tail) >= 2 or m.entity_type == "drug" and _HERB_PART.fullmatch(tail) else ""


def _glued_before(question: str, m: EntityMention, spans: list[tuple[int, int]]) -> str:
    """The name-like characters stuck before a name ("反流性", "尼帕", "电子烟相关"): the Han run before it,
    cut after the last word that ends what stands before a name and after any word that is never part
    of one (numbers, times, people, verbs); "" when fewer than two are left."""
    start = max((b for _, b in spans if b <= m.start), default=0)
    run = re.search(r"[\u4e00-\u9fff]+$", question[start:m.start])
    if not run:
        return ""
    head = run.group(0)
    cuts = [g.end() for g in BEFORE_NAME_STOP.finditer(head)] + [g.end() for g in NON_NAME_GLUE.finditer(head)]
    head = head[max(cuts, default=0):]
    return head if len(head) >= 2 else ""


_EXAM_DONE = re.compile(r"(做了|做过|去做|去|到医院|B超|彩超|CT|胃镜|肠镜|核磁|体检)[^，。,；;]{0,6}?检查|"
                        r"检查(了|过|出来?|发现|结果|显示|提示|说|有)")


def _intents(masked: str, question: str, parts: tuple[str, ...], types: list[str]) -> list[str]:
    """Sections asked, read from the asking clauses (the whole message when none asks): an overdose
    first ("一次吃了6粒"), then the cues, a specific cue before a general one; for a drug, the ways of
    asking that name no section ("能喝酒吗") when no cue does."""
    # a message that asks nothing tells a story: the examination it tells was done ("到医院去做了检查…发现是得了宫颈癌",
    # "之前B超检查有胃炎") is how the disease was found, not a section asked
    told = masked if parts else _EXAM_DONE.sub(" ", masked)
    scope = "，".join(mask_part(masked, question, p) for p in parts) if parts else told
    intents = []  # the first asking clause (a consultation's title) first; in a clause, a specific cue before
    for clause in [mask_part(masked, question, p) for p in parts] or [told]:  # a general one, the last first
        specific = detect_intent(_GENERAL_CUES.sub(" ", clause), types, last_first=True)
        general = detect_intent(clause, types, last_first=True)
        intents += [i for i in dict.fromkeys(specific + general) if i not in intents]
    if "drug" in types:
        asked = drug_question_intents(scope)
        if asked[:1] == ["药物过量"]:
            intents = asked + [i for i in intents if i not in asked]
        elif not intents:
            intents = asked
    if not _TAKE.search(scope):
        # "老人胃胀怎么办" names a group but asks nothing about taking a drug: no 老年用药
        intents = [i for i in intents if i not in POPULATION_SECTIONS]
    return intents


def _said_as_findings(m: EntityMention, findings) -> bool:
    """A product named by symptom words, written without its dosage form ("感冒咳嗽" for 感冒咳嗽片): what the
    message says are the findings, unless it asks a drug's section."""
    if m.entity_type != "drug" or m.surface == m.entity_name:
        return False
    inside = [f for f in findings if m.start <= f.start and f.end <= m.end]
    return bool(inside) and sum(f.end - f.start for f in inside) == m.end - m.start


def is_weak(m: EntityMention) -> bool:
    """A short alias or stem of a drug ("小便" for 人尿, "太阳" for 太阳膏), not the drug's own name."""
    return m.entity_type == "drug" and len(m.surface) <= 2 and m.surface != m.entity_name


def mask_part(masked: str, question: str, part: str) -> str:
    """The masked text of one clause of the question."""
    i = question.find(part)
    return masked[i:i + len(part)] if i >= 0 else part


def _focus(question: str, asking: list[tuple[int, int]], mentions: list[EntityMention], cut,
           common=lambda word: False) -> tuple[str, ...]:
    """The content words of the asking clauses (names, cues and asking words removed): "高血压可以洗冷水浴"
    asks about 冷水浴. The story around the question ("我外公年龄不小了") is not a focus."""
    spans = asking or [(0, len(question))]
    masked = mask_mentions(question, mentions)
    asked = "，".join(masked[a:b] for a, b in spans)
    words = residue(asked, [], cut, keep_cues=True).split()
    return tuple(dict.fromkeys([w for w in words if len(w) >= 2 and not re.search(r"\d", w)
                                and not GENERAL_FOCUS.fullmatch(w) and not common(w)
                                and not w.endswith(("不", "没"))]  # "严不(严重)": half an A-not-A question
                               + (["运动"] if EXERCISE.search(asked) else [])))  # (as a text says it)


def residue(question: str, mentions: list[EntityMention], cut=None, keep_cues: bool = False) -> str:
    """What the question is about once names, intent cues and asking words are taken out.

    `cut` splits text into words (the retriever's jieba, which knows the KB's names): asking words are then
    removed as whole words, so the "他" of 阿托伐他汀 stays. Without it, they are removed as substrings."""
    from retriever.intent import cue_pattern

    text = mask_mentions(question, mentions)
    text = text if keep_cues else cue_pattern().sub(" ", text)
    if cut is None:
        return asking_pattern().sub(" ", text)
    words: list[str] = []
    glue = False  # jieba cuts a name it does not know into characters ("人/偏/肺"): put them back together
    for w in cut(text):
        if not w.strip() or w in ASKING_WORDS or not WORD_CHAR.search(w):
            glue = False
            continue
        if len(w) == 1 and glue and len(words[-1]) < 8:
            words[-1] += w
        else:
            words.append(w)
        glue = len(w) == 1
    # a single character left between cues ("大" of "副作用大吗") says nothing about the topic
    return " ".join(w for w in words if len(w) > 1)
