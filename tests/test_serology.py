"""A hepatitis B serology result (乙肝两对半) read from the forms people copy, and answered with the sentence of the
KB's exam entry that names its pattern (issue 18: a report read, not "单项检查结果…不能替您下结论")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chat import serology
from tests.test_real_questions import demo  # noqa: F401 (the demo KB fixture)

ENTRY = next(json.loads(line) for line in (Path(__file__).resolve().parents[1] / "kb/demo/exams.jsonl").read_text(encoding="utf-8").splitlines()
             if json.loads(line)["name"] == serology.ENTRY)
MEANING = ENTRY["sections"][serology.SECTION]


@pytest.mark.parametrize("message, positive, weak", [
    ("乙肝两对半245阳性，即三抗体阳性，还要检验乙肝吗？", {2, 4, 5}, False),
    ("乙肝五项1、3、5阳性怎么办", {1, 3, 5}, False),
    ("检查出我乙肝两对半的五项全是阴性，这严重吗", set(), False),
    # ordinals ("第一项和第五项"): a blind read found 1+5 read as 5 alone, a current infection told as a past one
    ("乙肝的第一项和第五项是阳性，其余三项都是阴性，吃什么药能治好", {1, 5}, False),
    ("乙肝两对半第1、5项阳性", {1, 5}, False),
    ("乙肝两对半检查结果，第二项弱阳性，其他全部阴性，正常吗？", {2}, True),
    ("乙肝表面抗体弱阳性其他都是阴性，我传染了乙肝病毒吗？", {2}, True),
    ("表面抗原阳性，表面抗体阴性，e抗原阴性，e抗体阳性，核心抗体阳性", {1, 4, 5}, False),
    ("乙肝表面抗原呈阴性（-）；乙肝表面抗体呈阳性（+）；乙肝E抗原呈阴性(-);乙肝E抗体呈弱阳性(-/+)；乙肝核心抗体呈弱阳性(-/+)",
     {2, 4, 5}, True),
])
def test_the_five_markers_are_read_from_the_forms_people_copy(message, positive, weak):
    result = serology.read(message)
    assert result is not None and result.positive == frozenset(positive) and result.weak is weak


def test_a_result_not_told_whole_is_not_guessed_and_each_pattern_has_its_sentence():
    assert serology.read("表面抗原阳性，怎么办") is None and serology.read("我有乙肝") is None
    assert serology.read("两对半一五阳性") is None  # (a bare 一 or 五 is no marker's number: "乙肝五项" is the test)
    for pattern, _ in serology.PATTERNS:
        said = serology.sentence(serology.Result(pattern, False), MEANING)
        assert said and said in MEANING
    assert serology.sentence(serology.Result(frozenset({1, 2, 3, 4, 5}), False), MEANING) == ""  # none named
    assert serology.weak_sentence(MEANING).startswith("弱阳性")


def test_the_answer_says_the_pattern_first_from_the_kb_and_cites_it(demo):
    answer = demo.answer("我的乙肝两对半245阳性，其他阴性，要紧吗？")
    assert answer.text.startswith("您给出的化验结果") and "既往感染过乙肝病毒" in answer.text
    assert any(c.entity == serology.ENTRY and c.section == serology.SECTION for c in answer.citations)
