"""The answer pipeline, top to bottom: `Pipeline.stream` runs these stages in order over one `Turn`.

    question (+ conversation)
      _triage         emergencies get "call 120 now" first; self-harm gets a crisis line only
      _analyse        once, by the retriever: topics, asked sections, findings reported and denied, names the
                      KB lacks (a follow-up is made whole first: "它的副作用呢？")
      _read_person    age, sex, pregnancy, allergies, current drugs, from every user turn; what the person
                      wants to know and which facts would decide it (chat.concern); what the message itself
                      tells that should not wait (a severe pain, fever in an old person…) is said first
      _findings       a message that describes symptoms gets possible conditions at once (cited) when the
                      evidence is enough, else the question that would decide and where to go first
      _retrieve       hybrid search over the analysis (retriever)
      _check_support  which passages answer it; none -> the concern answered without KB facts, or a refusal
      _safety         what may be said to this person: drug lists; the evidence for the concern when the KB can
                      compare (X会引起Y吗, a complaint after a drug, 这是X吗, 能不能X, X要紧吗); where a disease of
                      theirs is seen; notes; label sentences that concern this patient (allergy, pregnancy,
                      interactions)
      _generate       the sentences that answer, numbered passages -> generator -> each claim checked against
                      its citation as it completes
      _close          the pipeline's own notes, when not to wait, disclaimer, citations
    then one answer_log row (chat.answer_log: in the KB or a database of its own, or none)

A stage that has said the whole answer returns True: `stream` is the one place an answer ends.
`Pipeline.stream()` yields the answer as it forms (only verified text) and then the final `Answer`;
`Pipeline.answer()` returns just the `Answer`. Every interface (CLI, Gradio, HTTP) goes through here.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

from kb.authority import BY_NAME, BY_ORIGIN, authority_label
from kb.injection import INSTRUCTION_LIKE
from retriever.analysis import QueryAnalysis, is_hypothesis
from retriever.hits import EntityMention, Passage, RetrievalResult
from retriever.passages import SENTENCE_END
from retriever.store import index_dir_setting
from retriever.symptoms import ELDERLY_AGE, Candidate, InquiryState, SymptomIndex, canonical
from retriever.words import WONDERED_BEFORE, body_sites, is_asking_clause

from chat.answer import DISCLAIMER, REFUSAL, SHORT_DISCLAIMER, Answer, Citation, Generation
from chat.answer_log import AnswerLogger
from chat.citations import HEADING, Claim, render_claim, verify, verify_stream
from chat import concern as concerns
from chat.conversation import asks_to_override, clean_text, normalize_messages, rewrite_followup, topic
from chat.generators import ExtractiveGenerator, GenerationRequest, Generator, GeneratorError, load_generator
from chat.inquiry import asked_symptom, is_answer, question_text, read_state
from chat.patient import check_drug_safety, core_names, extract_facts
from chat.selection import MAX_SENTENCES, PERSONAL_SENTENCES, select
from chat.support import ASK_THE_KB, Thresholds, check_support, looks_like_name, not_in_kb, without_suggestions
from chat import serology, values
from chat.triage import ENGLISH_ONLY_NOTE, is_english, triage

log = logging.getLogger("chat")

DEFAULT_K = 5
OVERRIDE_NOTE = "（我只能根据知识库回答；要求忽略知识库或规则的内容不会被执行。）"
DOSING_NOTE = "剂量照录说明书原文，请按医嘱或说明书使用："
DOSING_SECTIONS = ("用法用量", "药物过量")  # answered by quoting the label, and never from a stale index
FOOD_LIST_SECTIONS = ("宜吃", "忌吃")  # a crawl's foods to eat and to avoid, listed without a reason
DIET_SECTIONS = ("饮食",) + FOOD_LIST_SECTIONS  # what to eat: answered whole (what to eat and what not), said as such
_TREATMENT_ASKED = re.compile(r"(治疗|药)")  # "吃什么治疗比较好", "吃什么中药": not a question of diet
# A stale index (the KB moved on) and a foreign one (built from another KB) are told alike to the reader;
# the reason itself is in the answer's warnings and /health.
STALE_NOTE = ("⚠️ 注意：检索索引与知识库不一致（知识库已更新而索引未更新，或索引建自另一个知识库），"
              "以下内容可能不是最新的。")
DOSE_QUARANTINED = ("{drug}的用法用量段落中有疑似指令的文字，已整段略去，因此这里不给出剂量。请查看药品包装内的说明书原件，"
                    "或咨询医生、药师。")
STALE_DOSE = ("检索索引与知识库不一致（说明书可能已经更新），因此现在不回答剂量问题，以免给出旧的剂量。"
              "请管理员运行 `retriever update`，或直接查看药品说明书、咨询医生或药师。")
OVERDOSE_NOTE = "如果已经过量服用，请立即就医或拨打 120 急救电话，并带上药盒或说明书。"
DRUG_LIST_NOTE = ("以上是知识库中列出的常用药物，不是处方：是否适合您（尤其同时有其他疾病、正在服用其他药、怀孕、哺乳"
                  "或是儿童、老人时）要由医生决定。")
# A disease's drug list (常用药物/相关药物, mostly crawled) names drugs only for a person who asks which drug, and
# never for a child or in pregnancy or breastfeeding: what suits them is decided by a doctor, not a list.
DRUG_LIST_SECTIONS = ("常用药物", "相关药物")
CORROBORATED_LIST = "常用药物"  # the list the index keeps corroborated drugs in (retriever.passages)
FOOD_LISTS_LEFT_OUT = ("吃什么，知识库中「{x}」只有没有写明理由的食物清单，不一定适合您的病情，这里不列出；饮食请按医生的嘱咐，"
                      "必要时问营养科。")
DRUGS_NOT_LISTED = "具体用什么药，要由医生检查、明确原因后决定，这里不列药名，请不要自行买药。"
INJECTIONS_NOT_LISTED = "注射、输液类药物须由医生在医疗机构使用，这里不列出。"
DRUGS_NOT_FOR_GROUP = "{who}用药要由医生根据年龄、体重和具体情况决定，这里不列药名，请不要自行用药。"
MAX_CONDITIONS = 3
OVERVIEW_SENTENCES = 2  # quoted from an entry's overview to a person's story
THIN_EVIDENCE = "仅凭「{findings}」还不足以判断可能是哪种疾病，很多情况都会这样；先请您补充一点信息。"
STORY_REFUSAL = "这个问题要结合您的具体情况判断，建议当面咨询医生。"  # (the disclaimer after it says 如有不适…)
NO_BASIS = "知识库中没有能直接回答这个问题的条目，我不凭猜测作答。"
# After a first line that answered what it could (what decides it, where to go): where it came from, not a refusal.
NO_ENTRY_AFTER_LEAD = "以上是一般的就医提示，不是对您病情的结论；知识库中没有与您的情况直接对应的条目。"
NOT_PLACED = "仅凭目前的描述还判断不了是什么原因（这不等于没有问题），知识库中也没有足够相符的条目。"


@dataclass
class Delta:
    """A piece of verified answer text, for streaming interfaces."""

    text: str


@dataclass
class Turn:
    """One question on its way through the stages: what each stage read or decided, for the stages after it."""

    question: str  # cleaned
    messages: list[dict]
    answer: Answer
    generator: Generator
    k: int
    started: float
    timings: dict[str, float]
    flagged: object = None  # chat.triage's reading (level, message)
    analysis: QueryAnalysis | None = None
    facts: object = None  # chat.patient.PatientFacts
    concern: concerns.Concern | None = None
    describes: bool = False  # the message describes the person's own complaint
    result: RetrievalResult | None = None
    support: object = None  # chat.support.Support
    passages: list[Passage] = field(default_factory=list)  # what the answer may cite, numbered from 1
    numbered: dict[int, Passage] = field(default_factory=dict)
    flags: list = field(default_factory=list)  # safety flags (label sentences about this patient)
    cut_short: bool = False
    kept: list[Claim] = field(default_factory=list)
    removed: list[Claim] = field(default_factory=list)
    quoting: bool = True
    naming: tuple[str, ...] = ()  # what every quoted sentence must name (a complaint told after a drug: its item)
    values: list = field(default_factory=list)  # (comparison, passage): the person's report values (chat.values)
    cited_notes: set = field(default_factory=set)  # passage numbers the pipeline's own lines cite

    def say(self, text: str, paragraph: bool = True) -> Iterator[Delta]:
        """Append to the answer (a new paragraph unless told otherwise) and yield it."""
        return _say(self.answer, text, paragraph)


class Pipeline:
    """Answers questions from the KB; holds the retriever, the generator and what the checks need."""

    def __init__(self, retriever, generator: Generator | None = None, *, db_url: str | None = None,
                 index_dir: str | None = None, k: int = DEFAULT_K, thresholds: Thresholds | None = None,
                 log_answers: bool = True, answer_log: AnswerLogger | None = None):
        self.retriever = retriever
        self.generator = generator or ExtractiveGenerator()
        self.extractive = ExtractiveGenerator()
        self.db_url = db_url
        self.k = k
        self.thresholds = thresholds or Thresholds.load(index_dir)
        # None: nothing is logged (--no-log); by default the KB's own answer_log table
        self.answer_log = (answer_log or AnswerLogger.open(db_url)) if log_answers else None
        self.lock = threading.Lock()  # retrieval state (jieba, faiss scratch) is shared between requests

    @classmethod
    def load(cls, db_url: str | None = None, index_dir: str | None = None,
             generator: str | Generator = "extractive", k: int = DEFAULT_K, log_answers: bool = True,
             on_stale: str = "warn", log_db: str | None = None, log_retention_days: int | None = None) -> "Pipeline":
        """The retriever from `index_dir` (default $YIJU_INDEX, else var/index; with its findings index), the
        generator by spec. Answers are logged in the KB, or in `log_db` when given, for `log_retention_days`
        (default: kept), or not at all without `log_answers`."""
        from kb.db import resolve_url
        from retriever.search import Retriever  # (not `from retriever`: stays importable from any cwd)

        db_url = resolve_url(db_url)
        index_dir = index_dir or index_dir_setting()
        retriever = Retriever.load(index_dir=index_dir, db_url=db_url, on_stale=on_stale)
        gen = load_generator(generator) if isinstance(generator, str) else generator
        answer_log = AnswerLogger.open(db_url, log_db, log_retention_days) if log_answers else None
        return cls(retriever, gen, db_url=db_url, index_dir=index_dir, k=k, log_answers=log_answers,
                   answer_log=answer_log)

    @property
    def kb_revision(self) -> int:
        return int(getattr(self.retriever, "kb_revision", 0) or 0)

    @property
    def symptoms(self) -> SymptomIndex | None:
        """The findings index of the loaded index generation (refreshed with it)."""
        return getattr(self.retriever, "symptoms", None)

    def answer(self, question: str, history=None, k: int | None = None, generator: Generator | None = None) -> Answer:
        for event in self.stream(question, history, k, generator):
            if isinstance(event, Answer):
                return event
        raise RuntimeError("the pipeline ended without an answer")  # unreachable: stream always ends with one

    def stream(self, question: str, history=None, k: int | None = None,
               generator: Generator | None = None) -> Iterator[Delta | Answer]:
        """Deltas of verified text, then the Answer; the Answer's text is exactly the deltas joined.

        The stages run in order over one `Turn`; a stage that has said the whole answer returns True, and this
        is the one place an answer ends (early or not): logged and returned."""
        turn = self._begin(question, history, k, generator)
        for stage in (self._triage, self._analyse, self._read_person, self._findings, self._retrieve,
                      self._check_support, self._safety, self._generate, self._close):
            if (yield from stage(turn)):
                break
        yield self._finish(turn.answer, turn.started, turn.timings)

    # -- the stages, in the order `stream` runs them ---------------------------------------------------------

    def _begin(self, question: str, history, k: int | None, generator: Generator | None) -> "Turn":
        started = time.perf_counter()
        generator = generator or self.generator
        asked, question = question, clean_text(question)
        if not question:
            raise ValueError("the question is empty")
        answer = Answer(question=asked, text="", generator=generator.name, kb_revision=self.kb_revision)
        return Turn(question, normalize_messages(history), answer, generator, k or self.k, started, {})

    def _triage(self, turn: "Turn") -> Iterator[Delta]:
        """1. Red-flag triage, before anything else (a "有" that confirms an asked-about 惊厥 counts too)."""
        answer, question = turn.answer, turn.question
        t = time.perf_counter()
        confirmed = _confirmed_symptom(turn.messages, question)
        turn.flagged = flagged = triage(question + (f"，有{confirmed}" if confirmed else ""))
        turn.timings["triage"] = _ms(t)
        answer.triage = flagged.level
        yield from turn.say(flagged.message)
        if flagged.level == "crisis" or (flagged.level and confirmed and len(question) <= 12):
            answer.mode = "triage"  # a crisis, or a bare "有" confirming an emergency: the notice is the answer
            yield from turn.say(SHORT_DISCLAIMER)
            return True
        if is_english(question):
            answer.mode, answer.refused = "language", True
            if not flagged.level:
                yield from turn.say(ENGLISH_ONLY_NOTE)
            yield from turn.say(SHORT_DISCLAIMER)
            return True
        if asks_to_override(question):
            yield from turn.say(OVERRIDE_NOTE)
        return False

    def _analyse(self, turn: "Turn") -> Iterator[Delta]:
        """2. Query analysis, once (a follow-up that names nothing gets the conversation's topic back)."""
        t = time.perf_counter()
        with self.lock:
            analysis: QueryAnalysis = self.retriever.analyze(turn.question)
            if turn.messages:
                subject = topic(turn.messages, self._link)
                rewritten = rewrite_followup(turn.question, list(analysis.topics), subject, bool(analysis.intents))
                if rewritten:
                    turn.answer.rewritten = rewritten
                    analysis = self.retriever.analyze(rewritten)
        turn.timings["analyze"] = _ms(t)
        turn.answer.intents = list(analysis.intents)
        turn.answer.debug["analysis"] = analysis.to_json()
        turn.analysis = analysis
        return False
        yield  # (a stage is a generator)

    def _read_person(self, turn: "Turn") -> Iterator[Delta]:
        """3. Patient facts from every user turn, and what the person wants to know (chat.concern)."""
        answer, analysis = turn.answer, turn.analysis
        user_turns = [m["content"] for m in turn.messages if m["role"] == "user"] + [turn.question]
        with self.lock:
            turn.facts = facts = extract_facts(user_turns, link=self._link)
        answer.debug["patient"] = facts.to_json()
        turn.describes = analysis.kind in ("findings", "which_disease") or any(f.present for f in analysis.findings) \
            or (analysis.kind != "entity" and bool(body_sites(analysis.question)))  # "头皮痒…出白头": a complaint
        turn.concern = concern = concerns.read(
            analysis.question, child=facts.child, sex=facts.sex, pregnant=facts.pregnant, age_years=facts.age_years,
            describes_symptoms=turn.describes and not turn.flagged.level,
            drug_named=bool(facts.drug_ids) or any(m.entity_type == "drug" for m in analysis.topics + analysis.taking),
            disease_named=any(m.entity_type == "disease" for m in analysis.topics))
        answer.debug["concern"] = {"kind": concern.kind, "about": concern.about, "missing": list(concern.missing),
                                   "out_of_scope": concern.out_of_scope}
        turn.values = self._report_values(analysis.question, facts.sex) if concern.personal else []
        if concern.today and not turn.flagged.level:
            yield from turn.say(concern.today)  # what the message itself tells that should not wait: said first
        # a symptom told, or a story of a complaint that asks nothing, is more than the product
        complaint_told = any(f.present for f in analysis.findings) \
            or concern.complaint and not is_asking_clause(analysis.question)
        if concern.out_of_scope and not analysis.topics and not complaint_told:
            # a cosmetic, a supplement, a beauty procedure: one line on what the KB covers, not a refusal paragraph
            # (a complaint told beside one is answered as a complaint, the line among its notes: "喝酵素…绿色大便")
            answer.mode, answer.refused = "scope", True
            yield from turn.say(concerns.scope_line(concern))
            yield from turn.say(SHORT_DISCLAIMER)
            return True
        return False

    def _findings(self, turn: "Turn") -> Iterator[Delta]:
        """4. A description of symptoms: possible conditions now, one narrowing question (not in an emergency)."""
        if self.symptoms is None or turn.flagged.level or turn.values:
            return False  # (report values are answered from their tests' entries, with what retrieval finds)
        analysis, facts = turn.analysis, turn.facts
        state = read_state(self.symptoms, turn.messages + [{"role": "user", "content": analysis.question}])
        state.child, state.sex = facts.child, facts.sex
        state.elderly = facts.age_years is not None and facts.age_years >= ELDERLY_AGE
        state.pregnant = True if (facts.pregnant or facts.breastfeeding) else None
        replying = bool(_last_question(turn.messages)) and analysis.kind != "entity"  # "有" to "您是否有「咳嗽」？"
        if state.active and (replying or analysis.kind in ("findings", "which_disease")):
            signs = concerns.when_not_to_wait(turn.concern, facts.pregnant, True)
            return (yield from self._inquire(turn.answer, state, turn.concern, signs, turn.timings))
        return False

    def _retrieve(self, turn: "Turn") -> Iterator[Delta]:
        """5. Hybrid search over the analysis."""
        answer = turn.answer
        t = time.perf_counter()
        with self.lock:
            turn.result = result = self.retriever.search(turn.analysis, k=turn.k)
        turn.timings["retrieve"] = _ms(t)
        # search may have opened a newer index generation: the answer (and its log row) carries the revision
        # of the generation its passages came from, not the one read before the search
        answer.kb_revision = result.kb_revision
        answer.warnings += list(result.warnings)
        answer.debug["retrieval"] = _debug_hits(result)
        answer.generation = Generation([h.passage for h in result.hits])
        return False
        yield  # (a stage is a generator)

    def _check_support(self, turn: "Turn") -> Iterator[Delta]:
        """6. Support check: no support, no answer (the concern is still answered, with where to go first)."""
        answer, analysis, facts, concern = turn.answer, turn.analysis, turn.facts, turn.concern
        t = time.perf_counter()
        overview = (("药物相互作用",) if facts.drug_ids else ()) + (
            ("禁忌", "孕妇及哺乳期妇女用药") if (facts.allergies or facts.pregnant) else ())
        turn.support = support = check_support(analysis, turn.result, self._passages_of, self.thresholds, overview)
        turn.timings["support"] = _ms(t)
        answer.entities = [m.entity_name for m in support.entities]
        answer.debug["support"] = {"ok": support.ok, "reason": support.reason, "score": round(support.score, 3),
                                   "passages": [p.id for p in support.passages], "scores": support.scores[:10]}
        if support.ok:
            return False
        answer.refused = True
        personal = concern.missing or turn.describes or concern.kind not in ("tell", "what_is")
        if not turn.flagged.level and personal and not analysis.unknown:  # (a product it lacks is said as such)
            # the person's own situation, which the KB cannot place: answer the concern plainly (what decides
            # it, where to go first as the KB's entries say), ask for what would decide, say when to go now
            direction = self._direction(analysis.question, facts, concern=concern)
            answer.debug["direction"] = dataclasses.asdict(direction) if direction else None
            kb_department = direction.department if direction else ""
            department = concerns.where_to_go(concern, kb_department)
            # what decides this kind of complaint, when there is such a line, says more than a general one
            lead = concerns.lead_line(concern) if concern.kind in ("tell", "what_is", "serious", "normal", "what_to_do") else ""
            first = lead or concerns.first_line(concern, department=department, supported=False)
            asks = concerns.follow_up(concern)
            answer.mode = "inquiry" if asks else "guidance"
            said_values = values.line([(text, n) for n, (text, _) in enumerate(turn.values, 1)])
            answer.citations = [self._citation(n, p) for n, (_, p) in enumerate(turn.values, 1)]
            yield from turn.say(_join(said_values, first or (NOT_PLACED if turn.describes and not said_values else ""),
                                      concerns.measures_line(analysis.question),
                                      concerns.scope_line(concern),  # a product told beside the complaint
                                      _no_basis(first, turn.describes),
                                      "" if department in first else concerns.direction_line(kb_department, concern),
                                      asks, concerns.when_not_to_wait(concern, facts.pregnant, turn.describes)))
        elif concern.today and not turn.flagged.level:
            # what to do today was said first: the KB's silence is where that line came from, not "I do not answer"
            yield from turn.say(NO_ENTRY_AFTER_LEAD)
        elif not turn.flagged.level:  # in an emergency the call-120 notice is the answer
            # a story gets no suggestion (a "did you mean" from a word inside it misleads), and a person's own short
            # question no "ask me about 阿莫西林" example: both are for a question put to the KB
            story = len(turn.question) > concerns.STORY_CHARS or concern.personal and support.suggestion == ASK_THE_KB
            yield from turn.say(_join(REFUSAL, STORY_REFUSAL if story else support.suggestion))
        yield from turn.say(SHORT_DISCLAIMER)
        return True

    def _safety(self, turn: "Turn") -> Iterator[Delta]:
        """7. What may be said to this person: no dose from a stale index, no disease drug list unless asked (never
        for a child or in pregnancy), the concern's first line, then label sentences about this patient's
        allergies, pregnancy, age and other drugs."""
        answer, analysis, facts, concern, support = turn.answer, turn.analysis, turn.facts, turn.concern, turn.support
        if turn.result.stale and support.intent in DOSING_SECTIONS:
            # a label may have changed since the index was built: no dose from an index the KB has moved past
            answer.refused = True
            yield from turn.say(_join(STALE_DOSE, SHORT_DISCLAIMER))
            return True
        passages, withheld = _drug_lists(_quarantine(support.passages, answer), concern, analysis, facts)
        linked, passages, turn.naming = _concern_evidence(concern, analysis, support, self._passages_of, passages)
        if linked and concern.kind != "drug":
            withheld = ""  # the answer is the evidence for the concern, not the disease's overview with its list
        food_lists = [p for p in passages if p.section in FOOD_LIST_SECTIONS]
        if concern.personal:
            # (evidence chosen for the concern stays, an overview's sentence that answers it included)
            passages = _with_department(_without_crawled_treatments(
                passages if linked else _without_standing_overview(passages, support)),
                support, self._passages_of, concern)
        if not passages and turn.values:
            passages = list({p.id: p for _, p in turn.values}.values())  # the intervals answer the report's values
        ids = [p.id for p in passages]
        extra = list(dict.fromkeys(p.id for _, p in turn.values if p.id not in ids))
        numbers = [ids.index(p.id) + 1 if p.id in ids else len(ids) + 1 + extra.index(p.id) for _, p in turn.values]
        said_values = values.line([(text, n) for (text, _), n in zip(turn.values, numbers)])
        named = "、".join(dict.fromkeys(m.entity_name for m in support.entities[:2]))
        cited_facts_follow = bool(passages) and not (support.not_covered or withheld and concern.kind == "drug") \
            and (concern.kind != "drug" or any(p.section in DRUG_LIST_SECTIONS for p in passages))  # (drugs follow)
        department = concerns.where_to_go(concern, _department_of(passages)) if concern.personal else ""
        diet = support.intent in DIET_SECTIONS and concern.kind in ("what_to_do", "tell") \
            and any(p.section in DIET_SECTIONS for p in passages) and not _TREATMENT_ASKED.search(analysis.question)
        if diet:  # the diet text is the answer (with where to go): what else was retrieved would crowd it out
            passages = [p for p in passages if p.section in DIET_SECTIONS or p.section == "就诊科室"]
        if support.intent in DIET_SECTIONS and food_lists and not any(p.section in DIET_SECTIONS for p in passages):
            linked = linked or FOOD_LISTS_LEFT_OUT.format(x=named)  # (asked what to eat: say why no list follows)
        first = linked or ("" if support.intent == "药物相互作用" else concerns.diet_line(named) if diet
                           else concerns.first_line(concern, named=named, department=department,
                                                    supported=cited_facts_follow))
        notes = ([STALE_NOTE] if turn.result.stale else []) + _analysis_notes(analysis, support) + [said_values, first] \
            + [concerns.measures_line(analysis.question)] \
            + [concerns.scope_line(concern)] \
            + ([] if linked or diet else
               [without_suggestions(n) if concern.personal else n for n in support.not_covered]) \
            + ([] if first and concern.kind in ("hospital", "result") else not_in_kb(analysis))  # (said first)
        notes = [n for n in notes if n]
        if notes:
            yield from turn.say("\n".join(notes))
        if withheld:
            answer.debug["drug_list_withheld"] = withheld
            yield from turn.say(withheld)
        if not passages:
            answer.refused = True
            signs = concerns.when_not_to_wait(concern, facts.pregnant, True)  # (a child's, a pregnancy's, a complaint's)
            yield from turn.say(_join(signs, concerns.follow_up(concern), SHORT_DISCLAIMER))
            return True
        turn.passages = passages
        turn.numbered = numbered = {n: p for n, p in enumerate(passages, 1)}
        turn.cited_notes = {_number_of(p, numbered) for _, p in turn.values}  # (numbered as said above)
        drugs = [(m.entity_id, m.entity_name) for m in support.entities if m.entity_type == "drug"]
        taking = [d for d in facts.drug_ids if d[0] not in {i for i, _ in drugs}]
        turn.flags = flags = check_drug_safety(facts, drugs, taking, self._passages_of) if drugs else []
        answer.safety_flags = [f"- 您提到{f.reason}：{f.drug}的说明书（{f.passage.section}）写明“{f.quote}”"
                               f"[{_number_of(f.passage, numbered)}]" for f in flags]
        if flags:
            yield from turn.say("⚠️ 用药安全提示：\n" + "\n".join(answer.safety_flags))
        return False

    def _generate(self, turn: "Turn") -> Iterator[Delta]:
        """8. Select the sentences that answer, generate with numbered passages, verify each claim as it completes
        (doses are quoted from the label, never generated)."""
        answer, analysis, facts, passages, generator = turn.answer, turn.analysis, turn.facts, turn.passages, turn.generator
        groups = tuple(g for g, on in (("child", facts.child), ("pregnant", facts.pregnant)) if on)
        # a person's own story gets fewer quoted sentences: the answer also carries its questions and signs, and
        # should still fit a phone screen
        diet = turn.support.intent in DIET_SECTIONS  # a diet text is answered whole
        limit = PERSONAL_SENTENCES if turn.concern.personal and not diet else MAX_SENTENCES
        if turn.concern.personal and turn.support.reason == "entity overview" and not diet:
            limit = OVERVIEW_SENTENCES  # a person who asked nothing of a named entry: a sentence or two of its overview
        # the sentences that answer the person's concern (how it is treated, how serious it is) are chosen first
        wanted = concerns.answering_words(turn.concern) if turn.concern.personal else ()
        excerpts, turn.cut_short = select(dataclasses.replace(analysis, focus=analysis.focus + wanted + turn.naming),
                                          passages, groups, limit)  # (what each quoted sentence must name leads)
        if turn.naming:
            excerpts = [e for e in excerpts if any(w in e[1] for w in turn.naming)] or excerpts
        # a dose question answered from the label's dose text (not the overview of a drug that has none)
        dosing = turn.support.intent in DOSING_SECTIONS and any(p.section in DOSING_SECTIONS for p in passages)
        if dosing and not generator.quotes:
            generator = self.extractive  # doses are quoted from the label, never paraphrased by a model
            answer.warnings.append("dosing question: the label is quoted instead of generated")
        emptied = [p for p in passages if p.id in answer.debug.get("emptied", ())]
        if dosing and emptied and all(p.id in answer.debug["emptied"] for p in passages if p.section in DOSING_SECTIONS):
            # the label's dose text was all instruction-like: no dose, and one line that says why
            answer.refused = True
            yield from turn.say(_join(DOSE_QUARANTINED.format(drug=emptied[0].entity_name), SHORT_DISCLAIMER))
            return True
        lead = _lead(turn.support, _names_another(excerpts, passages))
        if lead:
            yield from turn.say(lead)
        elif dosing:
            yield from turn.say(DOSING_NOTE)
        request = GenerationRequest(analysis.question, passages, list(analysis.intents), facts.summary(),
                                    excerpts=excerpts)
        turn.kept, turn.removed, turn.quoting = yield from self._verified_claims(
            turn, generator, request, under_a_line=bool(lead or dosing))
        answer.removed_claims = [f"{c.raw} ({c.problem})" for c in turn.removed]
        answer.generation = Generation(answer.generation.retrieved, request.question, list(passages),
                                       request.patient, list(turn.kept))
        return False

    def _verified_claims(self, turn: "Turn", generator: Generator, request: GenerationRequest, under_a_line: bool):
        """The generator's claims as each is verified against its citation (said as they come), repeats cut; the
        KB quoted instead when a model's claims are none. Returns (kept, removed, quoting)."""
        answer, numbered = turn.answer, turn.numbered
        answerable = {n: numbered[n] for n in range(1, len(request.passages) + 1)}
        t = time.perf_counter()
        kept: list[Claim] = []
        removed: list[Claim] = []
        declined: list[Claim] = []  # the model's own refusal (training's REFUSAL): no claim, so not an unsupported one
        said: set[str] = set()  # the gist of every sentence the model wrote: greedy decoding that repeats one loops
        quoting = generator.quotes  # quotes what selection chose, repeats included

        def first_time(claim: Claim) -> Claim:
            gist = "" if quoting else _gist(claim.text)
            if gist in said:
                raise _Repeating
            if gist:
                said.add(gist)
            return claim

        def drop(claim: Claim) -> None:
            first_time(claim)
            words = claim.text.strip(" \n。，")
            (declined if words and words in REFUSAL else removed).append(claim)

        pieces = generator.stream(request)
        claims = verify_stream(pieces, answerable, drop)
        repeated = False
        failed = ""  # the generator's own error (an unreachable server), said instead of a guess at why
        try:
            for claim in map(first_time, claims):
                if not kept:
                    turn.timings["first_claim"] = _ms(turn.started)
                    # the body is a new paragraph, or the line under the lead
                    yield from turn.say(("\n" if under_a_line else "") + render_claim(claim), paragraph=not under_a_line)
                else:
                    yield from turn.say(_separator(kept[-1], claim) + render_claim(claim), paragraph=False)
                kept.append(claim)
        except _Repeating:  # the model started over: what follows would be the same sentences again
            repeated = True
        except GeneratorError as exc:
            failed = str(exc)
            answer.warnings.append(failed)
        finally:
            claims.close()
            getattr(pieces, "close", lambda: None)()  # generation stops here
        turn.timings["generate"] = _ms(t)
        if not quoting:
            # what the model wrote and what verification let through (`chat eval --real` sums it)
            answer.debug["generated"] = {"kept": len(kept), "removed": len(removed), "declined": bool(declined),
                                         "repeated": repeated, "quoted_instead": not kept}
        if not kept and not quoting:
            # nothing the model said could be verified, or it found no answer where retrieval found support:
            # quote the KB rather than show nothing (or guess)
            why = ("failed (see above)" if failed else "found no answer in the passages" if declined and not removed
                   else "no generated sentence was supported")
            answer.warnings.append(f"{generator.name}: {why}; the KB is quoted instead")
            kept = verify("".join(self.extractive.stream(request)), answerable).kept
            yield from turn.say(render_body(kept))
        return kept, removed, quoting

    def _close(self, turn: "Turn") -> Iterator[Delta]:
        """9. The pipeline's own notes (never model claims), when not to wait, the disclaimer, the citations."""
        answer, kept, removed, numbered = turn.answer, turn.kept, turn.removed, turn.numbered
        if not kept:
            answer.refused = True
            yield from turn.say(REFUSAL)
        if removed and turn.quoting:
            # a quoted sentence that fails verification is a citation bug, not generated text: logged, not said
            answer.warnings.append(f"{len(removed)} quoted sentence(s) failed verification (a citation mismatch)")
        elif removed:
            yield from turn.say(f"（已删除 {len(removed)} 句无法由所引资料核实的生成内容。）")
        if kept and turn.cut_short:
            cited = sorted({n for c in kept for n in c.cited})
            yield from turn.say(f"（以上摘取了与问题最相关的句子，完整内容见来源{''.join(f'[{n}]' for n in cited)}。）")
        if "药物过量" in turn.analysis.intents[:1]:
            yield from turn.say(OVERDOSE_NOTE)
        if kept and any(c.cited and numbered[c.cited[0]].section in ("常用药物", "相关药物") for c in kept):
            yield from turn.say(DRUG_LIST_NOTE)
        if answer.debug.get("quarantined"):
            yield from turn.say("（所引资料中有一段疑似指令的文字，已略去。）")
        yield from turn.say(_differs_note(kept, numbered))
        if kept:
            yield from turn.say(concerns.follow_up(turn.concern))
        if not turn.flagged.level:  # a complaint of the person's own, or a pregnancy: when not to wait
            yield from turn.say(concerns.when_not_to_wait(turn.concern, turn.facts.pregnant, turn.describes,
                                                          "、".join(answer.entities)))
        yield from turn.say(SHORT_DISCLAIMER if answer.refused else DISCLAIMER)
        cited = set(n for c in kept for n in c.cited) | {_number_of(f.passage, numbered) for f in turn.flags} \
            | turn.cited_notes
        answer.citations = [self._citation(n, numbered[n]) for n in sorted(cited)]
        return True

    # -- findings ----------------------------------------------------------------------------------------

    def _inquire(self, answer: Answer, state: InquiryState, concern: concerns.Concern, signs: str, timings: dict):
        """Possible conditions for the findings so far, with one narrowing question while one would
        change the list; returns False (and says nothing) when no KB disease lists these findings, so
        that the question goes on to retrieval."""
        t = time.perf_counter()
        step = self.symptoms.next_step(state)
        timings["inquiry"] = _ms(t)
        answer.debug["inquiry"] = {
            "present": state.present, "absent": state.absent, "asked": state.asked, "reason": step.reason,
            "candidates": [{"name": c.name, "posterior": round(c.posterior, 3), "matched": c.matched}
                           for c in step.candidates[:8]],
            "next": step.symptom, "gain_bits": round(step.gain, 3),
        }
        if not step.candidates:
            return False
        answer.debug["inquiry"]["evidence_bits"] = round(step.evidence, 2)
        lead = concerns.first_line(concern, supported=not step.thin)
        if step.thin:
            # one generic word or two names no condition: ask what would tell them apart instead of listing
            answer.mode, answer.refused = "inquiry", False
            direction = self._direction(answer.question, None, state, concern)
            answer.debug["direction"] = dataclasses.asdict(direction) if direction else None
            yield from _say(answer, _join(lead, THIN_EVIDENCE.format(findings="、".join(state.present)),
                                          concerns.direction_line(direction.department if direction else "", concern)))
            # at most MAX_QUESTIONS in all: the symptom that separates the candidates, then the missing facts; when
            # the kind of complaint is read, its own questions decide, not a symptom of a condition one word suggests
            # ("最近全身无力，我怀孕了吗" was asked about 肝大而硬)
            separating = step.symptom if not concern.complaint else None
            facts_asked = concern.missing[:concerns.MAX_QUESTIONS - bool(separating)]
            yield from _say(answer, _join(question_text(separating) if separating else "",
                                          concerns.follow_up(dataclasses.replace(concern, missing=facts_asked))))
            yield from _say(answer, signs)
            yield from _say(answer, SHORT_DISCLAIMER)
            return True
        answer.mode = "diagnosis"
        yield from _say(answer, lead)
        yield from self._possible_conditions(answer, state, step.candidates)
        if not step.done and step.symptom:
            yield from _say(answer, question_text(step.symptom))
        elif concern.missing:
            yield from _say(answer, concerns.follow_up(concern))
        yield from _say(answer, signs)
        yield from _say(answer, DISCLAIMER)
        return True

    def _possible_conditions(self, answer: Answer, state: InquiryState, candidates: list[Candidate]) -> Iterator[Delta]:
        """Possible conditions, each with its matching symptoms, department and usual exams, every line
        cited and verified. Never a diagnosis: the heading says so."""
        candidates = _led_by_most_specific(candidates, state.present, self.symptoms.weight)
        shown = [c for c in candidates[:MAX_CONDITIONS] if c.posterior >= 0.05] or candidates[:1]
        numbered: dict[int, Passage] = {}
        blocks = []
        for c in shown:
            claims = []
            for section, phrase in (("症状", "的症状包括"), ("就诊科室", "的就诊科室："), ("检查", "的检查：")):
                lists = [p for p in self._passages_of(c.disease_id, section) if p.items]
                if not lists:
                    continue
                if section == "症状":
                    matched = set(c.matched)
                    passage = next((p for p in lists if matched & {canonical(_norm(i)) for i in p.items}), lists[0])
                    items = [i for i in passage.items if canonical(_norm(i)) in matched] or list(passage.items[:4])
                else:
                    passage, items = lists[0], list(lists[0].items[:4])
                claims.append(f"{c.name}{phrase}{'、'.join(items)}。[{_number_of(passage, numbered)}]")
            blocks.append((c, verify("".join(claims), numbered)))
        heading = (f"根据您描述的症状（{'、'.join(state.present)}"
                   + (f"；没有{'、'.join(state.absent)}" if state.absent else "")
                   + "），知识库中症状相符的疾病有以下几种。这只是可能的方向，不是诊断，请以医生面诊为准：")
        yield from _say(answer, heading)
        for c, checked in blocks:
            if checked.kept:
                yield from _say(answer, f"**{c.name}**（与您所说的{'、'.join(c.matched)}相符）\n"
                                        + "".join(render_claim(cl) for cl in checked.kept))
        cited = sorted({n for _, checked in blocks for n in checked.cited})
        answer.citations = [self._citation(n, numbered[n]) for n in cited]
        answer.entities = [c.name for c in shown]
        answer.removed_claims = [f"{cl.raw} ({cl.problem})" for _, checked in blocks for cl in checked.removed]
        answer.refused = not cited

    # -- helpers -----------------------------------------------------------------------------------------

    def _link(self, text: str):
        return self.retriever.link_entities(text)

    def _direction(self, text: str, facts, state: InquiryState | None = None, concern: concerns.Concern | None = None):
        """Where to go first for what `text` describes, as the KB's entries say (None: the KB points nowhere, or
        the kind of complaint read from the message says where: a period that is late goes to gynaecology, not to
        the 骨科 of the conditions that list 全身无力)."""
        if self.symptoms is None or not hasattr(self.retriever, "direction") \
                or concern is not None and concerns.usual_department(concern):
            return None
        if state is None:
            state = InquiryState(*self.symptoms.find(text), child=facts.child, sex=facts.sex,
                                 pregnant=True if (facts.pregnant or facts.breastfeeding) else None)
        with self.lock:
            return self.retriever.direction(text, state)

    def _report_values(self, text: str, sex: str | None) -> list[tuple[str, Passage]]:
        """The report values `text` gives, each compared with the reference interval the KB holds for its test
        (chat.values), with the passage that states it; none for a test the KB has no interval of."""
        said = []
        for reading in values.read(text):
            test = reading.test
            passage = next((p for name in test.entries for p in self._exam_passages(name, test.section)), None)
            if passage is None:
                continue
            if test.section == "临床意义":
                said.append((values.virus(reading), passage))
                continue
            comparison = values.compare(reading, values.intervals(passage.body, test.key), sex)
            if comparison:
                said.append((comparison, passage))
        result = serology.read(text)  # a hepatitis B serology pattern, with the sentence of the KB that names it
        chunks = self._exam_passages(serology.ENTRY, serology.SECTION) if result else []
        found = next(((p, sentence) for p in chunks if (sentence := serology.sentence(result, p.body))), None)
        if found:
            said.append((serology.item(result, found[1]), found[0]))
            weak = next(((p, s) for p in chunks if (s := serology.weak_sentence(p.body))), None) if result.weak else None
            if weak:
                said.append((serology.weak_item(weak[1]), weak[0]))
        return said

    def _exam_passages(self, name: str, section: str) -> list[Passage]:
        """The passages of a section of the exam entity called `name` (one linker lookup)."""
        return [p for m in self._link(name) if m.entity_type == "exam" and m.entity_name == name
                for p in self._passages_of(m.entity_id, section)]

    def _passages_of(self, entity_id: int, section: str | None = None) -> list[Passage]:
        return list(self.retriever.passages_of(entity_id, section))

    def _citation(self, n: int, passage: Passage) -> Citation:
        """Citation [n], with the licence note the index carries for the passage's source."""
        return Citation.of(n, passage, self.retriever.licenses.get(passage.source))

    def _finish(self, answer: Answer, started: float, timings: dict) -> Answer:
        timings["total"] = _ms(started)
        answer.timings_ms = timings
        if self.answer_log is not None:
            t = time.perf_counter()
            try:
                answer.log_id = self.answer_log.write(answer)
            except Exception as exc:  # an audit-log failure must not lose the user's answer; it is reported
                answer.warnings.append(f"answer log not written: {str(exc).splitlines()[0][:200]}")
                log.warning("answer log not written: %s", exc)
            timings["log"] = _ms(t)
        return answer


def _led_by_most_specific(candidates: list[Candidate], present: list[str], weight) -> list[Candidate]:
    """The candidates that list the one most specific finding told ("甲状腺结节" beside "疼痛、肿块"), when some
    do: one that lacks it matched only the generic words (乳腺炎, 霰粒肿 for a thyroid nodule). All of them when
    no single finding stands out."""
    # (a pain named only by what it is like, "刺痛", weighs nothing: `retriever.symptoms.QUALITY_ONLY`)
    ranked = sorted(present, key=weight, reverse=True)
    if not ranked or weight(ranked[0]) <= 0 or len(ranked) > 1 and weight(ranked[0]) == weight(ranked[1]):
        return candidates
    leading = [c for c in candidates if ranked[0] in c.matched]
    return leading or candidates


def _last_question(messages: list[dict]) -> str | None:
    """The symptom the last assistant message asked about ("您是否有「惊厥」？"), if it asked one."""
    return asked_symptom(next((m["content"] for m in reversed(messages) if m["role"] == "assistant"), ""))


def _confirmed_symptom(messages: list[dict], question: str) -> str | None:
    """The symptom the last assistant message asked about, when this reply says "有"."""
    symptom = _last_question(messages)
    return symptom if symptom and is_answer(question) is True else None


class _Repeating(Exception):
    """The model wrote a sentence it had already written."""


def _gist(text: str) -> str:
    """A sentence without a "X的section：" heading, spaces and punctuation: the same sentence written again, with
    or without its heading, has the same gist."""
    return re.sub(r"[\s，,。；;：:、！？!?（）()“”\"']", "", HEADING.sub("", text))


def _quarantine(passages: list[Passage], answer: Answer) -> list[Passage]:
    """Passages with instruction-like sentences removed (recorded in the answer's debug data)."""
    out = []
    for p in passages:
        if not INSTRUCTION_LIKE.search(p.text):
            out.append(p)
            continue
        kept = [s for s in SENTENCE_END.split(p.text) if s.strip() and not INSTRUCTION_LIKE.search(s)]
        answer.debug.setdefault("quarantined", []).append(p.id)
        if not kept:
            answer.debug.setdefault("emptied", []).append(p.id)
        out.append(dataclasses.replace(p, text="".join(kept) or f"{p.entity_name} · {p.section}："))
    return out


def _drug_lists(passages: list[Passage], concern: concerns.Concern, analysis: QueryAnalysis,
                facts) -> tuple[list[Passage], str]:
    """The passages without a disease's drug list where none should be shown, and the line that says why."""
    lists = [p for p in passages if p.entity_type == "disease" and p.section in DRUG_LIST_SECTIONS]
    if not lists:
        return passages, ""
    who = "孩子" if facts.child else "孕期" if facts.pregnant else "哺乳期" if facts.breastfeeding else ""
    asked = concern.kind == "drug" or analysis.intents[:1] in (("常用药物",), ("相关药物",))
    if asked and not who:
        # only a corroborated list (常用药物, kept by kb.corroboration) names drugs; CMeKG's 相关药物 relates any
        # drug to the disease and is never shown; injections and infusions are given in a clinic: not named
        passages = [p for p in passages if p not in lists or p.section == CORROBORATED_LIST]
        if not any(p.section == CORROBORATED_LIST for p in passages):
            return passages, DRUGS_NOT_LISTED
        trimmed = [(_without_injections(p) if p in lists else p, p) for p in passages]
        changed = any(new is not old for new, old in trimmed)
        return [new for new, _ in trimmed if new is not None], INJECTIONS_NOT_LISTED if changed else ""
    kept = [p for p in passages if p not in lists]
    return kept, DRUGS_NOT_FOR_GROUP.format(who=who) if who else DRUGS_NOT_LISTED


def _concern_evidence(concern: concerns.Concern, analysis: QueryAnalysis, support, passages_of,
                      passages: list[Passage]) -> tuple[str, list[Passage], tuple[str, ...]]:
    """The evidence for what the person asks, when it is a comparison the KB can make: the line said before the
    cited sentences, the passages that bear it (else "" and the passages as they were), and what each quoted
    sentence must name (a reader may narrow a list to its items that answer). The first reader that finds its
    kind of question answers: X会引起Y吗, a complaint after a drug, 这是X吗, 能不能X, X要紧吗."""
    for reader in (_link_evidence, _reaction_evidence, _purpose_evidence, _hypothesis_evidence, _test_evidence,
                   _cure_evidence, _can_evidence, _serious_evidence):
        line, found, *naming = reader(concern, analysis, support, passages_of, passages)
        if line:
            return line, found, tuple(naming[0]) if naming else ()
    return "", passages, ()


LINK_SECTIONS = ("并发症", "不良反应", "症状", "病因", "注意事项", "禁忌", "概述")  # where "X causes Y" is said


def _link_evidence(concern: concerns.Concern, analysis: QueryAnalysis, support, passages_of,
                   passages: list[Passage]) -> tuple[str, list[Passage]]:
    """For "X会引起Y吗": the line that says whether X's KB entry names Y, and X's passages, the one naming Y first
    (never Y's own entry: "瘫痪的并发症" does not answer whether 强直性脊柱炎 leads to 瘫痪)."""
    if concern.kind != "causes" or not concern.about or not support.entities:
        return "", passages
    x, y = support.entities[0], concern.about
    if y in x.entity_name:
        return "", passages
    own = [p for p in passages if p.entity_id == x.entity_id]
    naming = sorted((p for p in passages_of(x.entity_id) if p.section in LINK_SECTIONS and y in p.body),
                    key=lambda p: LINK_SECTIONS.index(p.section))
    if naming:
        return concerns.link_line(x.entity_name, y, naming[0].section), \
            [naming[0]] + [p for p in own if p.id != naming[0].id][:1]
    return concerns.link_line(x.entity_name, y), own or passages


# A crawled list of treatments ("药物治疗、支持性治疗", "中医中药、免疫调节剂、导向治疗、抗病毒治疗") says nothing of this
# person's treatment: to a person asking about their own it reads as the treatment ("心理、康复治疗" for epilepsy;
# TCM beside antivirals for hepatitis B), and is left out; a curated entry's (or a label's) is kept. Which
# treatment suits them is the doctor's, as the concern's first line says.
# So is a crawled list of foods to eat or avoid ("宜吃：鸡心、葵花子仁、白果（干）" for thrombocytopenia with bleeding,
# "鹿肉、鸡肝" for liver fibrosis): items without a reason, not advice for this person; a diet text (饮食) is kept.
_CRAWLED_LISTS = ("治疗方式",) + FOOD_LIST_SECTIONS


def _without_crawled_treatments(passages: list[Passage]) -> list[Passage]:
    """The passages without a treatment or food list ranked below a curated entry."""
    return [p for p in passages if not (p.section in _CRAWLED_LISTS and p.authority < BY_NAME["curated"])]


def _without_standing_overview(passages: list[Passage], support) -> list[Passage]:
    """Where an overview stands in for the section a person asked about (the KB lacks it), the overview is left
    out: to a person it is a page of figures beside their question ("胃癌晚期…能治愈吗" answered with the disease's
    death toll and "未经治疗者平均寿命约为13个月"); the concern's line, where to go and what decides are the answer."""
    if support.reason != "entity overview" or not support.not_covered:
        return passages
    return [p for p in passages if p.section != "概述"]


def _department_of(passages: list[Passage]) -> str:
    """The first department the answer's 就诊科室 passage names, skipping a general 内科/外科 when it names a more
    specific one ("内科、消化内科" -> 消化内科)."""
    items = next((list(p.items) for p in passages if p.section == "就诊科室" and p.items), [])
    specific = [i for i in items if i not in ("内科", "外科", "全科")]
    first = (specific or items or [""])[0]
    return first + "科" if first and not re.search(r"(科|门诊|中心|室)$", first) else first  # the crawl's "肝病"


SELF_CARE = ("护理", "饮食", "预防")  # what a person can do meanwhile, as the KB states it
TREATMENT_PROSE = ("治疗", "概述")  # prose sections that may say how a disease is treated or controlled
_TREATMENT_SAID = re.compile(r"(治疗|控制|缓解|治愈|痊愈)[^。]{0,30}(可以|能|可|会|大多|多数|%)|(经|经过|通过|坚持)[^。]{0,20}(治疗|用药)")


def _with_department(passages: list[Passage], support, passages_of, concern: concerns.Concern) -> list[Passage]:
    """A person asking about a disease of theirs is told where it is seen: its 就诊科室 passage, added last when
    the answer has none; and when nothing else is left to say what to do (its drug list withheld, its crawled
    treatment list left out), the care the KB states for it."""
    disease = next((m for m in support.entities if m.entity_type == "disease"), None)
    if disease is None:
        return passages
    if not passages and concern.kind in ("what_to_do", "drug", "tell", "serious"):
        care = [p for section in SELF_CARE for p in passages_of(disease.entity_id, section) if p.body.strip()]
        passages = care[:1]
    if concern.kind in ("what_to_do", "drug") and not any(_TREATMENT_SAID.search(p.body) for p in passages):
        # "癫痫怎么治" with its crawled treatment list left out: what its own text says of treatment ("经过正规的抗癫痫
        # 药物治疗，约70%的患者其发作是可以得到控制的"), the sentence the concern's words choose
        said = [p for section in TREATMENT_PROSE for p in passages_of(disease.entity_id, section)
                if _TREATMENT_SAID.search(p.body)]
        passages = said[:1] + passages
    if any(p.section == "就诊科室" for p in passages):
        return passages
    return passages + [p for p in passages_of(disease.entity_id, "就诊科室") if p.items][:1]


def _serious_evidence(concern: concerns.Concern, analysis: QueryAnalysis, support, passages_of,
                      passages: list[Passage]) -> tuple[str, list[Passage]]:
    """For "X要紧吗" about a disease: what it can lead to (its 并发症) first, instead of its overview."""
    if concern.kind != "serious" or not support.entities or support.entities[0].entity_type != "disease":
        return "", passages
    x = support.entities[0]
    if re.search(rf"(无|没有|否认|不是|非)({re.escape(x.surface)}|{re.escape(x.entity_name)})", analysis.question):
        return "", passages  # "…无乙肝病史，这有影响么": not what 乙肝 leads to
    # what its own text says of its course comes first (a crawled 并发症 list reads as what it leads to, and names
    # 乳腺癌 for 乳腺增生, 糖尿病 for 甲状腺结节): "预后良好", "可以控制"; then what it can lead to
    course = _course_passages(x, passages_of, COURSE_WORDS)[:1]
    if course:
        return concerns.course_line(x.entity_name), course + [p for p in passages if p.section == "就诊科室"][:1], \
            COURSE_WORDS
    # (a knowledge graph's 并发症 relates diseases seen together, not what this one leads to: 脂肪肝 -> 结核病)
    leads_to = [p for p in passages_of(x.entity_id, "并发症") if p.body.strip() and p.authority != BY_NAME["graph"]][:1]
    if not leads_to:
        return "", passages
    return concerns.serious_line(x.entity_name), leads_to + [p for p in passages if p.section not in ("概述", "并发症")][:1]


# "能治好吗", "能彻底根治吗", "多久能好": whether it can be cured or controlled, as the disease's own text says
_CURABLE = re.compile(r"(能(不能)?(彻底|完全)?(治好|根治|治愈|痊愈|康复|好转|好)|(治|医)得好|好得了|根治|能不能好|会好吗|会不会好|"
                      r"多久(能|才能|可以|会)?(好|治好|痊愈|康复)|治愈率|有(没有)?救)")
# What such a sentence names (not the crawl's bare 治愈率 or 治疗周期 figures: kb.debris keeps them from quotes).
CURE_WORDS = ("痊愈", "治愈", "得到控制", "可以控制", "能够控制", "预后")
CURE_SECTIONS = ("概述", "治疗")  # where a disease's course is told (not 预防's "痊愈后半年内…")
COURSE_WORDS = CURE_WORDS + ("良性", "自愈", "可逆")  # what a sentence on how serious it is names


def _course_passages(x: EntityMention, passages_of, words: tuple[str, ...]) -> list[Passage]:
    """The passages of x's overview and treatment text (CURE_SECTIONS) that name one of `words`: where its
    course is told."""
    return [p for section in CURE_SECTIONS for p in passages_of(x.entity_id, section) if any(w in p.body for w in words)]


def _cure_evidence(concern: concerns.Concern, analysis: QueryAnalysis, support, passages_of,
                   passages: list[Passage]) -> tuple[str, list[Passage], tuple[str, ...]]:
    """For "X能治好吗" about a disease: the sentences of its entry that say whether and how it is cured or
    controlled (each quoted sentence names one of CURE_WORDS); "" when its entry says nothing of it."""
    if not support.entities or support.entities[0].entity_type != "disease" or not _CURABLE.search(analysis.question) \
            or concern.kind == "hospital" or concern.child:
        return "", passages, ()  # (where to go is asked; a child's course is not the adult figures')
    x = support.entities[0]
    said = _course_passages(x, passages_of, CURE_WORDS)[:2]
    if not said:
        return "", passages, ()
    return concerns.cure_line(x.entity_name), said, CURE_WORDS


CAN_SECTIONS = ("饮食", "宜吃", "忌吃", "护理", "注意事项", "禁忌", "预防")  # where "能不能X" is said, in order


def _can_evidence(concern: concerns.Concern, analysis: QueryAnalysis, support, passages_of,
                  passages: list[Passage]) -> tuple[str, list[Passage]]:
    """For "能不能X" about an entry: the line that says which of its sections mentions X, and that passage
    first; for a food or drink it does not mention, its diet advice (not its overview)."""
    if concern.kind != "can_i" or concern.stopping or not concern.about or not support.entities \
            or _CURABLE.search(analysis.question):
        return "", passages  # (whether it can be cured is not a matter of its diet or prevention text)
    x = support.entities[0]
    own = [p for p in passages_of(x.entity_id) if p.section in CAN_SECTIONS]
    own.sort(key=lambda p: CAN_SECTIONS.index(p.section))
    for word in concerns.can_words(concern.about):
        naming = [p for p in own if word in p.body]
        if naming:
            return concerns.can_line(x.entity_name, concern.about, naming[0].section), \
                [naming[0]] + [p for p in passages if p.id != naming[0].id][:1]
    diet = [p for p in own if p.section == "饮食"][:1]
    if diet and concerns.is_diet(concern.about):
        return concerns.can_line(x.entity_name, concern.about, diet=True), diet
    return "", passages


def _purpose_evidence(concern: concerns.Concern, analysis: QueryAnalysis, support, passages_of,
                      passages: list[Passage]) -> tuple[str, list[Passage]]:
    """For "X能治Y吗", "Y可以吃X吗" about a medicine: the line that says whether the KB's 适应症 for it names Y, and
    that passage; not its dose when it does not (a dose for a use not named there reads as advice to take it)."""
    if concern.kind not in ("can_i", "what_is") or concern.stopping or not support.entities:
        return "", passages
    x = support.entities[0]
    if x.entity_type != "drug" or not _ORAL.search(x.entity_name) or "药物相互作用" in analysis.intents \
            or sum(m.entity_type == "drug" for m in support.entities) > 1:
        # a medicine by its form ("能吃牛肉吗" asks of a food a graph lists as a material); "X和Y能一起吃吗" asks
        # about the two together: the interaction lead answers it
        return "", passages
    wanted = [m.entity_name for m in analysis.mentions if m.entity_type == "disease"] \
        + [f.term for f in analysis.findings if f.present]
    wanted = [w for w in dict.fromkeys(wanted) if len(w) >= 2 and w not in x.entity_name]
    indications = [p for p in passages_of(x.entity_id, "适应症") if p.body.strip()]
    if not wanted or not indications:
        return "", passages
    listed = next((w for w in wanted if any(w in p.body for p in indications)), "")
    naming = [p for p in indications if listed and listed in p.body] or indications[:1]
    child_unsaid = concern.child and not _CHILD_USE.search(x.entity_name) \
        and not any(_CHILD_USE.search(p.body) for p in passages_of(x.entity_id))
    if child_unsaid:  # the line is the answer: an adult's indications under a child's question read as a yes
        return concerns.purpose_line(x.entity_name, listed or wanted[0], bool(listed), child_unsaid), []
    return concerns.purpose_line(x.entity_name, listed or wanted[0], bool(listed)), \
        naming[:1] + ([p for p in passages if p.id != naming[0].id and p.entity_id == x.entity_id][:1] if listed else [])


SYMPTOM_SECTIONS = ("症状", "临床症状及体征")


_ORAL = re.compile(r"(片|胶囊|颗粒|丸|口服|糖浆|混悬|滴丸|散)$")
_CHILD_USE = re.compile(r"(儿童|小儿|婴|幼儿|新生儿)")  # a drug's KB text that speaks of children at all


def _reaction_evidence(concern: concerns.Concern, analysis: QueryAnalysis, support, passages_of,
                       passages: list[Passage]) -> tuple[str, list[Passage]]:
    """For a complaint told after taking a named drug ("吃了阿莫西林以后起皮疹，是过敏吗"): the line that says whether
    its label's 不良反应 lists what was told, and that passage (the drug, not a disease called 皮疹)."""
    if concern.kind not in ("what_is", "causes", "tell", "serious", "what_to_do"):
        return "", passages
    told = list(dict.fromkeys(f.term for f in analysis.findings if f.present))
    drugs = list({m.entity_id: m for m in list(analysis.taking) + [m for m in analysis.topics
                                                                  if m.entity_type == "drug"]}.values())
    if not told or not drugs or len(analysis.question) < 8:
        return "", passages
    if any(m.entity_type == "disease" and WONDERED_BEFORE.search(analysis.question[max(0, m.start - 6):m.start])
           and not _REACTION_NAME.search(m.entity_name) for m in analysis.topics):
        return "", passages  # "吃了多西环素…又开始痒，是不是支原体发作了": the disease asked about, not the drug
    if re.search(r"(吃|服|喝)", analysis.question):  # a drug swallowed: its oral forms, not a cream of one name
        drugs = [m for m in drugs if _ORAL.search(m.entity_name)] or drugs
    first = None
    for drug in drugs[:8]:
        adverse = [p for p in passages_of(drug.entity_id, "不良反应") if p.body.strip()]
        if not adverse:
            continue
        listed = [t for t in told if any(t in p.body or t in {canonical(_norm(i)) for i in p.items} for p in adverse)]
        if listed:
            # the item that names it, not the label's whole list: to a person taking the drug the rest is a page
            # of harms beside their question (the source is cited for the whole)
            naming = max(adverse, key=lambda p: sum(t in p.body for t in listed))
            return concerns.reaction_line(drug.entity_name, told, listed), [naming], _named_forms(listed, naming)
        first = first or (drug, adverse[0])
    if first is None:
        return "", passages
    return concerns.reaction_line(first[0].entity_name, told, []), [first[1]]


def _named_forms(listed: list[str], passage: Passage) -> tuple[str, ...]:
    """How `passage` words the listed findings: the finding itself, or the item it is the canonical form of."""
    return tuple(dict.fromkeys(listed + [i for i in passage.items if canonical(_norm(i)) in listed]))


_REACTION_NAME = re.compile(r"(过敏|反应|副作用|药疹|中毒)")  # a hypothesis that is the drug's own doing


def _hypothesis_evidence(concern: concerns.Concern, analysis: QueryAnalysis, support, passages_of,
                         passages: list[Passage]) -> tuple[str, list[Passage]]:
    """For "这是X吗" after a description: the line that says which of the told findings X's KB entry lists, and
    X's symptom passage (the one naming them first) and exams (the answer is a comparison, never a yes)."""
    if concern.kind != "what_is" or not support.entities or support.entities[0].entity_type != "disease":
        return "", passages
    x = support.entities[0]
    if not any(m.entity_id == x.entity_id and is_hypothesis(analysis.question, m) for m in analysis.topics):
        return "", passages  # ("非癫痫性肌阵挛是病吗" names 癫痫 but does not ask whether it is 癫痫)
    told = list(dict.fromkeys(f.term for f in analysis.findings
                              if f.present and f.term not in x.entity_name and x.entity_name not in f.term))
    if not told:
        return "", passages
    own = passages_of(x.entity_id)
    symptom = [p for p in own if p.section in SYMPTOM_SECTIONS]
    if not symptom:
        return "", passages

    def lists(p: Passage, term: str) -> bool:
        return term in p.body or term in {canonical(_norm(i)) for i in p.items}

    listed = [t for t in told if any(lists(p, t) for p in symptom)]
    naming = sorted(symptom, key=lambda p: -sum(lists(p, t) for t in listed))[:1]
    exams = [p for p in own if p.section == "检查"][:1]
    return concerns.hypothesis_line(x.entity_name, told, listed, bool(exams)), naming + exams


def _test_evidence(concern: concerns.Concern, analysis: QueryAnalysis, support, passages_of,
                   passages: list[Passage]) -> tuple[str, list[Passage]]:
    """For "血清ALT能查出乙肝吗": whether the disease's KB entry lists the tests the person named among its 检查, and
    that passage (which tests find it, not a yes or no the KB does not say)."""
    asking = analysis.question
    disease = next((m for m in support.entities if m.entity_type == "disease"), None)
    if disease is None or not concerns.DETECTS.search(asking):
        return "", passages
    named = list(dict.fromkeys([m.surface for m in analysis.mentions if m.entity_type == "exam"]
                               + [t for t in concerns.TESTS_NAMED.findall(asking) if t not in disease.entity_name]))
    exams = [p for p in passages_of(disease.entity_id, "检查") if p.body.strip()]
    if not named or not exams:
        return "", passages
    listed = [t for t in named if any(t in p.body for p in exams)]
    return concerns.test_line(disease.entity_name, named, listed), exams[:1]


_INJECTION = re.compile(r"(注射|针剂|输液|静脉|肌注|粉针|冻干粉)")


def _without_injections(p: Passage) -> Passage | None:
    """A drug-list passage without injections (None when nothing else is left)."""
    head, sep, body = p.text.partition("：")
    items = [i for i in re.split(r"[、，,]", body.rstrip("。")) if i.strip()] if sep else []
    if not items or not any(_INJECTION.search(i) for i in items):
        return p
    left = [i for i in items if not _INJECTION.search(i)]
    if not left:
        return None
    return dataclasses.replace(p, text=f"{head}：{'、'.join(left)}", items=tuple(i for i in p.items if not _INJECTION.search(i)))


def _number_of(passage: Passage, numbered: dict[int, Passage]) -> int:
    """The passage's number in this answer, adding it when it is not numbered yet."""
    for n, p in numbered.items():
        if p.id == passage.id:
            return n
    n = len(numbered) + 1
    numbered[n] = passage
    return n


_LIST_ITEM = re.compile(r"^\s*(\d{1,2}[.．、)）]|[-•·])")


def _separator(previous: Claim | None, claim: Claim) -> str:
    """A new line where the cited passage changes or a numbered item begins."""
    if previous is None:
        return ""
    return "\n" if previous.cited[:1] != claim.cited[:1] or _LIST_ITEM.match(claim.text) else ""


def render_body(claims: list[Claim]) -> str:
    """Claims as the answer's body shows them (finetune renders its targets with this too)."""
    return "".join(_separator(claims[i - 1] if i else None, c) + render_claim(c) for i, c in enumerate(claims))


def _debug_hits(result: RetrievalResult) -> list[dict]:
    return [{"rank": h.rank, "passage_id": h.passage.id, "entity": h.passage.entity_name,
             "section": h.passage.section, "score": round(h.score, 4), "channels": h.channel_ranks,
             "boosts": h.boosts, "text": h.passage.text[:120]} for h in result.hits]


def _analysis_notes(analysis: QueryAnalysis, support) -> list[str]:
    """What the analysis changed about the question, said to the user before the answer."""
    answered = {m.entity_name for m in support.entities}
    notes = [f"您是不是指「{name}」？以下按「{name}」回答。" for written, name in analysis.corrected if name in answered]
    # (a narrower name the KB lacks only when what narrows it is a kind, not a time or a degree: "突发急性膀胱炎")
    broader = {narrow: broad for narrow, broad in reversed(analysis.broader)  # one line a name: its first entry
               if broad in answered and not _TIME_OR_DEGREE.fullmatch(narrow[:len(narrow) - len(broad)])}
    notes += [f"知识库中没有「{narrow}」的专门条目，以下是「{broad}」的内容。" for narrow, broad in reversed(broader.items())]
    notes += [f"知识库中没有「{name}」。" for name in analysis.unknown if looks_like_name(name)]
    return notes


def _differs_note(kept: list[Claim], numbered: dict[int, Passage]) -> str:
    """One line per quoted section where a lower-ranked source says what the quoted one does not: the answer
    follows the higher source, and says that another one differs (kb.authority `Held.differs`)."""
    lines = []
    for n in sorted({c.cited[0] for c in kept if c.cited}):
        p = numbered[n]
        lower = [authority_label(BY_ORIGIN.get(o)) for o in p.differs if BY_ORIGIN.get(o, 0) < p.authority]
        if lower:
            lines.append(f"（关于{p.entity_name}的{p.section}，{'、'.join(dict.fromkeys(lower))}中另有与上文不同的记载；"
                         f"以上按{authority_label(p.authority)}回答[{n}]。）")
    return "\n".join(dict.fromkeys(lines))


_TIME_OR_DEGREE = re.compile(r"(突发|突然|早期|初期|近期|最近|轻度|中度|重度|轻微|严重|急性发作|反复)+")


def _no_basis(first: str, describes: bool) -> str:
    """What an unsupported answer says of the KB: nothing when its first line already says it (or a story got
    none), where the first line came from when there is one, else that nothing in the KB answers it."""
    if "知识库" in first or (describes and not first):
        return ""
    return NO_ENTRY_AFTER_LEAD if first else NO_BASIS


def _lead(support, names_another: bool) -> str:
    """A one-line lead for an interaction question, built only from what the selected sentences show: whether a
    quoted sentence of one drug's text names the other (`names_another`)."""
    drugs = list(dict.fromkeys(m.entity_name for m in support.entities if m.entity_type == "drug"))
    if support.intent != "药物相互作用" or len(drugs) < 2:
        return ""
    if names_another:
        return f"{'和'.join(drugs[:2])}的说明书中提到对方的句子如下，合用前请咨询医生或药师："
    return (f"知识库中{'和'.join(drugs[:2])}的说明书都没有直接写明两者合用的情况；合用前请咨询医生或药师。"
            "以下是知识库中它们的相关内容：")


def _names_another(excerpts: list[tuple[int, str]], passages: list[Passage]) -> bool:
    """Whether a quoted sentence of one entry's passage names another entry the answer quotes (its core name)."""
    names = {p.entity_name for p in passages}
    return any(any(len(c) >= 2 and c in sentence for other in names - {passages[n - 1].entity_name}
                   for c in core_names(other)) for n, sentence in excerpts)


def _norm(text: str) -> str:
    from kb.names import normalize_name

    return normalize_name(text)


def _say(answer: Answer, text: str, paragraph: bool = True) -> Iterator[Delta]:
    """Append `text` to the answer (as a new paragraph unless told otherwise) and yield it as a Delta."""
    if not text:
        return
    if paragraph and answer.text:
        text = "\n\n" + text.lstrip("\n")
    answer.text += text
    yield Delta(text)


def _join(*parts: str) -> str:
    return "\n\n".join(p.strip("\n") for p in parts if p and p.strip())


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000
