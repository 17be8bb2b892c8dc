"""Training examples from real-style questions (`finetune data --real`), on the tiny KB of test_chat.py:
the evaluation sample is never trained on, targets say only what their prompts show, refusals, splits."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from chat.answer import REFUSAL, Answer, Generation
from chat.citations import Claim, split_claims
from chat.pipeline import render_body
from chat.real_questions import RealQuestion, read_questions, sample
from finetune import real_data
from finetune.data import read_jsonl
from finetune.prompts import cited_numbers
from finetune.real_data import example_of, real_examples, training_questions
from retriever.hits import Passage
from tests.test_chat import build_tiny_kb

AMOXICILLIN = "医生您好，孩子中耳炎，医生开了阿莫西林胶囊，阿莫西林有什么副作用吗？谢谢"
INTERACTION = "布洛芬缓释胶囊和华法林钠片能一起吃吗？我爸头痛，想两个一起吃"
EMERGENCY = "突然胸口剧烈疼痛，喘不上气，出了一身冷汗，怎么办"
NOTHING = "请问量子纠缠会不会影响睡眠质量？"
MESSAGES = [AMOXICILLIN, INTERACTION, EMERGENCY, NOTHING, "高血压平时需要做哪些检查啊？最近头晕",
            "偏头痛应该挂什么科？老是一侧头疼"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from chat.pipeline import Pipeline

    url, index = build_tiny_kb(tmp_path_factory.mktemp("real-data-kb"))
    return Pipeline.load(url, index, "extractive", log_answers=False, on_stale="ignore")


@pytest.fixture
def questions_file(tmp_path):
    path = tmp_path / "questions.jsonl"
    rows = [{"question": q, "reference": "建议就医"} for q in MESSAGES]
    rows += [{"question": f"第{i}个问题：感冒了头痛怎么办？"} for i in range(30)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def example(pipeline, question: str, counters: Counter | None = None) -> dict | None:
    named = [m for m in pipeline.retriever.link_entities(question) if m.entity_type in real_data.QUESTION_TYPES]
    return example_of(pipeline.answer(question), named, k=pipeline.k, counters=counters)


def prompt_passages(ex: dict) -> dict[int, str]:
    user = ex["messages"][1]["content"]
    return {int(n): text for n, text in re.findall(r"^\[(\d+)\] (.*)$", user, flags=re.M)}


# --------------------------------------------------------------------------- the evaluation sample

def test_the_evaluation_sample_is_never_trained_on(questions_file):
    questions = read_questions(questions_file)
    held_out = {q.question for q in sample(questions, 10, 0)}  # what `chat eval --real FILE --n 10 --seed 0` asks
    kept, excluded = training_questions(questions, eval_n=10, eval_seed=0)
    assert excluded == 10 and len(kept) == len(questions) - 10
    assert not held_out & {q.question for q in kept}
    other = {q.question for q in sample(questions, 10, 1)}
    kept_other, _ = training_questions(questions, eval_n=10, eval_seed=1)
    assert not other & {q.question for q in kept_other} and kept_other != kept
    assert len(training_questions(questions, eval_n=0)[0]) == len(questions)
    assert len(training_questions(questions, eval_n=10, n=5, seed=3)[0]) == 5


def test_a_question_of_the_same_text_as_an_evaluation_question_is_excluded_and_each_text_is_used_once():
    questions = [RealQuestion(f"问题{i}", line=i) for i in range(20)]
    held_out = sample(questions, 5, 0)[0]
    questions += [RealQuestion(held_out.question + " ", line=21), RealQuestion("问题0", line=22)]
    kept, excluded = training_questions(questions, eval_n=5, eval_seed=0)
    texts = [q.question.strip() for q in kept]
    assert held_out.question not in texts and excluded == 6
    assert len(texts) == len(set(texts))


def test_the_cli_leaves_out_the_evaluation_sample_the_user_names(pipeline, questions_file, tmp_path):
    from typer.testing import CliRunner

    from finetune.cli import app

    out = tmp_path / "data"
    result = CliRunner().invoke(app, ["data", "--db", pipeline.db_url, "--index", str(pipeline_index(pipeline)),
                                      "--no-rag", "--closed-book", "0", "--real", str(questions_file),
                                      "--eval-n", "3", "--eval-seed", "2", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    rows = [r for s in ("train", "dev", "test") for r in read_jsonl(out / f"{s}.jsonl")]
    held_out = {q.question for q in sample(read_questions(questions_file), 3, 2)}
    assert rows and not held_out & {r["question"] for r in rows}
    assert len({r["question"] for r in rows}) == len(rows)
    assert stats["counters"]["real_questions_eval_excluded"] == 3
    assert stats["counters"]["real_skipped_emergency"] == (EMERGENCY not in held_out)
    by_kind = Counter(r["kind"] for r in rows)
    assert sum(stats["splits"][s]["by_kind"].get("real", 0) for s in stats["splits"]) == by_kind["real"] > 0


def pipeline_index(pipeline):
    return pipeline.retriever.index_dir


# --------------------------------------------------------------------------- what an example says

def test_the_pipeline_exposes_the_generator_passages_and_a_body_that_is_in_the_answer(pipeline):
    answer = pipeline.answer(AMOXICILLIN)
    gen = answer.generation
    assert gen.passages and gen.claims and gen.question
    assert render_body(gen.claims) in answer.text
    assert "generation" not in json.dumps(answer.to_json(debug=True), ensure_ascii=False)


def test_targets_cite_only_prompt_passages_and_quote_only_their_sentences(pipeline):
    examples = [ex for q in MESSAGES if (ex := example(pipeline, q)) and ex["kind"] == "real"]
    assert len(examples) >= 3
    for ex in examples:
        shown = prompt_passages(ex)
        target = ex["messages"][-1]["content"]
        assert ex["messages"][-1]["role"] == "assistant" and REFUSAL not in target
        assert "仅供参考" not in target and "120" not in target  # no disclaimer, no notice: the pipeline adds them
        assert set(cited_numbers(target)) <= set(shown) and len(shown) == len(ex["passage_ids"])
        for claim in split_claims(target):
            assert claim.cited
            for n in claim.cited:
                text = re.sub(r"^\S+?的\S+?：", "", claim.text).rstrip("。")
                assert text and text in "".join(shown[n].split()), (claim.text, shown[n])


def test_a_sentence_the_clipped_prompt_does_not_show_is_left_out_of_the_target(pipeline):
    full = example(pipeline, AMOXICILLIN)
    short = example_of(pipeline.answer(AMOXICILLIN), [], max_chars=40)
    assert short is None or len(short["messages"][-1]["content"]) < len(full["messages"][-1]["content"])


def test_the_kb_silence_becomes_a_refusal_with_the_top_passages_shown(pipeline):
    counters = Counter()
    ex = example(pipeline, NOTHING, counters)
    assert ex["kind"] == "real_refusal" and counters["real_refusal"] == 1
    assert ex["messages"][-1]["content"] == REFUSAL
    assert 1 <= len(prompt_passages(ex)) <= pipeline.k and ex["gold_passage_ids"] == []


def test_emergencies_and_findings_answers_are_skipped_and_counted(pipeline):
    counters = Counter()
    assert example(pipeline, EMERGENCY, counters) is None
    assert example(pipeline, "这两天拉肚子，肚子疼，还有点恶心，怎么回事", counters) is None
    assert counters["real_skipped_emergency"] == 1 and counters["real_skipped_findings_answer"] == 1


# --------------------------------------------------------------------------- splits

def test_an_example_goes_to_its_cited_entity_split_with_other_splits_passages_taken_out(pipeline, monkeypatch):
    monkeypatch.setattr(real_data, "split_of", lambda t, name: "test" if name == "阿莫西林胶囊" else "train")
    ex = example(pipeline, AMOXICILLIN)
    assert ex["split"] == "test" and ex["entity"] == "阿莫西林胶囊"
    assert all(text.startswith("阿莫西林胶囊") for text in prompt_passages(ex).values())
    assert cited_numbers(ex["messages"][-1]["content"])[0] == 1  # renumbered to the prompt's passages


def test_an_example_citing_entities_of_two_splits_is_dropped(pipeline, monkeypatch):
    answer = pipeline.answer(INTERACTION)
    cited = {c.entity for c in answer.citations}
    assert {"华法林钠片", "布洛芬缓释胶囊"} <= cited, answer.text
    monkeypatch.setattr(real_data, "split_of", lambda t, name: "dev" if name == "华法林钠片" else "train")
    counters = Counter()
    assert example_of(answer, [], counters=counters) is None
    assert counters["real_dropped_cited_across_splits"] == 1


def test_a_training_example_never_names_a_held_out_entity(pipeline, monkeypatch):
    monkeypatch.setattr(real_data, "split_of", lambda t, name: "dev" if name == "高血压" else "train")
    counters = Counter()
    ex = example(pipeline, "我妈有高血压，最近吃阿莫西林胶囊，阿莫西林有什么副作用？", counters)
    assert ex is None or ex["split"] == "dev"
    assert ex is not None or counters["real_dropped_names_held_out_entity"] == 1


def test_real_examples_run_the_questions_through_the_pipeline(pipeline):
    counters = Counter()
    rows = list(real_examples(pipeline, [RealQuestion(q, line=i) for i, q in enumerate(MESSAGES, 1)], k=pipeline.k,
                              counters=counters))
    assert {r["kind"] for r in rows} == {"real", "real_refusal"}
    assert counters["real_skipped_emergency"] == 1
    assert all(r["line"] for r in rows)


def test_refusals_are_capped_at_their_share_so_a_thin_kb_does_not_teach_declining(pipeline):
    refused = [q for q in MESSAGES if pipeline.answer(q).refused]
    answered = [q for q in MESSAGES if not pipeline.answer(q).refused and not pipeline.answer(q).triage]
    assert refused and answered
    questions = [RealQuestion(q, line=i) for i, q in enumerate(refused * 10 + answered, 1)]  # mostly refusals
    free, capped = Counter(), Counter()
    list(real_examples(pipeline, questions, k=pipeline.k, counters=free))
    rows = list(real_examples(pipeline, questions, k=pipeline.k, counters=capped, refusal_share=0.25))
    assert free["real_refusal"] > free["real"]  # uncapped, declining would be most of what is learnt
    refusals = sum(r["kind"] == "real_refusal" for r in rows)
    assert 0 < refusals <= 0.25 * len(rows) and capped["real"] == free["real"]
    assert capped["real_dropped_refusal_over_share"] == free["real_refusal"] - refusals


def passage(pid: str, name: str, section: str, body: str, entity_type: str = "drug") -> Passage:
    return Passage(pid, hash(name) % 1000, entity_type, name, section, f"{name} · {section}：{body}", "test", 1, "h", 0)


def test_passages_of_other_splits_leave_the_prompt_and_citations_are_renumbered(monkeypatch):
    monkeypatch.setattr(real_data, "split_of", lambda t, name: "dev" if name == "乙药" else "train")
    shown = [passage("p1", "乙药", "不良反应", "偶见头晕。"), passage("p2", "甲药", "不良反应", "偶见恶心。可见皮疹。"),
             passage("p3", "乙药", "禁忌", "孕妇禁用。"), passage("p4", "丙药", "禁忌", "儿童禁用。")]
    claims = [Claim("甲药的不良反应：偶见恶心。", [2], ""), Claim("可见皮疹。", [2], ""), Claim("儿童禁用。", [4], "")]
    answer = Answer("甲药有什么副作用", "…", generation=Generation(shown, "甲药有什么副作用", shown, "", claims))
    ex = example_of(answer, [])
    assert ex["split"] == "train" and ex["passage_ids"] == ["p2", "p4"]
    assert ex["messages"][-1]["content"] == "甲药的不良反应：偶见恶心[1]。可见皮疹[1]。\n儿童禁用[2]。"
    assert ex["gold_passage_ids"] == ["p2", "p4"]


def test_a_sentence_past_the_clipped_passage_is_left_out(monkeypatch):
    monkeypatch.setattr(real_data, "split_of", lambda t, name: "train")
    shown = [passage("p1", "甲药", "不良反应", "偶见恶心。" + "长" * 300 + "。可见皮疹。")]
    claims = [Claim("甲药的不良反应：偶见恶心。", [1], ""), Claim("可见皮疹。", [1], "")]
    answer = Answer("甲药有什么副作用", "…", generation=Generation(shown, "甲药有什么副作用", shown, "", claims))
    assert example_of(answer, [])["messages"][-1]["content"] == "甲药的不良反应：偶见恶心[1]。"


def test_a_bad_question_file_is_one_line_naming_it(tmp_path, pipeline):
    from typer.testing import CliRunner

    from finetune.cli import app

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "头痛怎么办"}\n{"reference": "x"}\n', encoding="utf-8")
    for path, said in ((bad, "line 2"), (tmp_path / "missing.csv", "cannot read")):
        result = CliRunner().invoke(app, ["data", "--db", pipeline.db_url, "--index", str(pipeline_index(pipeline)),
                                          "--no-rag", "--closed-book", "0", "--real", str(path),
                                          "--out", str(tmp_path / "out")])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert said in result.output and str(path.name) in result.output
