"""The learned reader of emergencies (chat.urgent_reader) beside the rules of chat.triage (issue 19): trained on the
tune split of the red-flag words set only, it flags what the rules let pass as a possibility, never clears a rule's
flag, and the shipped artefact is what the code trains."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat import triage as triage_module
from chat import urgent_reader
from chat.evaluation import evaluate_redflag_words, load_words_set


def test_the_shipped_reader_is_trained_on_the_tune_split_and_retraining_gives_it_back():
    pytest.importorskip("sklearn")
    if not urgent_reader.ORDINARY.exists():
        pytest.skip(f"{urgent_reader.ORDINARY} is absent: the shipped reader was trained with its ordinary questions")
    shipped = urgent_reader.load()
    tune = [r for r in load_words_set() if r["split"] == "tune"]
    assert shipped.meta["n_urgent"] + shipped.meta["n_lookalike"] == len(tune)
    ordinary = urgent_reader.ordinary_questions()
    assert shipped.meta["n_ordinary"] == len(ordinary) > 1000
    again = urgent_reader.train(tune, ordinary=ordinary)
    assert again.threshold == pytest.approx(shipped.threshold, abs=1e-3)
    for text in ("我爸刚才把一整瓶安眠药都吃了", "孩子发烧38度精神还好", "I think my chest is being crushed"):
        assert again.score(text)[0] == pytest.approx(shipped.score(text)[0], abs=1e-3)
        assert again.score(text)[1] == shipped.score(text)[1]


def test_with_the_reader_the_check_split_is_caught_far_more_often_at_a_like_false_alarm_rate(monkeypatch):
    both = evaluate_redflag_words()["redflag_words_by_split"]["check"]
    monkeypatch.setattr(urgent_reader, "load", lambda path=None: None)
    rules = evaluate_redflag_words()["redflag_words_by_split"]["check"]
    assert both["recall"] >= rules["recall"] + 0.05
    assert both["false_alarm_rate"] <= rules["false_alarm_rate"] + 0.02 and both["false_alarm_rate"] <= 0.10


def test_what_only_the_reader_flags_is_said_as_a_possibility_and_the_answer_goes_on(monkeypatch):
    class Always:
        def urgent(self, text):
            return "self_harm"

    monkeypatch.setattr(urgent_reader, "load", lambda path=None: Always())
    flagged = triage_module.triage("最近心情不太好，什么都不想做")
    assert flagged.level == "emergency" and flagged.flags == ["self_harm (learned)"]  # never a crisis that ends the answer
    assert flagged.message.startswith("⚠️ 提醒：您描述的情况可能需要紧急处理") and "400-161-9995" in flagged.message
    # a rule's flag is the rule's, whatever the reader says
    ruled = triage_module.triage("我爸刚才喝了半瓶敌敌畏")
    assert ruled.level and not any("(learned)" in f for f in ruled.flags)


def test_without_its_file_the_rules_stand_alone(tmp_path: Path):
    urgent_reader.load.cache_clear()
    try:
        assert urgent_reader.load(tmp_path / "missing.npz") is None
    finally:
        urgent_reader.load.cache_clear()
