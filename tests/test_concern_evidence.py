"""What a person's concern is answered with (issue 18's tune read: 'how is it treated' answered with a department
alone; crawled promises quoted): a disease's own sentence on treatment, chosen by the concern's words; a crawled
page's promise is never a claim."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chat import concern as concerns
from chat.pipeline import _with_department
from kb.debris import PROMOTION, debris
from retriever.hits import EntityMention, Passage


def passage(section: str, text: str, items=()) -> Passage:
    return Passage(f"e1:{section}:xywy:0", 1, "disease", "癫痫", section, f"癫痫 · {section}：{text}", "xywy", 1, "h",
                   items=tuple(items), authority=10)


OVERVIEW = passage("概述", "癫痫是一种慢性疾病。癫痫患者经过正规的抗癫痫药物治疗，约70%的患者其发作是可以得到控制的。")
DEPARTMENT = passage("就诊科室", "内科、神经内科", ["内科", "神经内科"])


def passages_of(entity_id, section=None):
    return [p for p in (OVERVIEW, DEPARTMENT) if section in (None, p.section)]


def support():
    return SimpleNamespace(entities=[EntityMention("癫痫", 0, 2, 1, "disease", "癫痫")])


def test_how_it_is_treated_is_answered_from_its_own_text_when_its_treatment_list_is_left_out():
    concern = concerns.read("我叔叔的癫痫怎么治疗？")
    assert concern.kind == "what_to_do" and "治疗" in concerns.answering_words(concern)
    assert _with_department([DEPARTMENT], support(), passages_of, concern) == [OVERVIEW, DEPARTMENT]


def test_other_concerns_get_no_treatment_text():
    concern = concerns.read("我叔叔的癫痫会遗传吗？")
    assert _with_department([DEPARTMENT], support(), passages_of, concern) == [DEPARTMENT]


@pytest.mark.parametrize("sentence", ["中医治疗癫痫效果显著，可以根治。", "本品纯中药制剂，无毒副作用。", "采用祖传秘方，一次性治愈，永不复发。"])
def test_a_crawled_promise_is_never_a_claim(sentence):
    assert debris(sentence, sentence=True) == PROMOTION
    assert debris(sentence, sentence=True, strict=False) is None  # a curated text is as written


def test_medical_uses_of_the_same_words_stay():
    for sentence in ("根治幽门螺杆菌可降低胃癌风险。", "规范治疗后多数患者可以控制发作。"):
        assert debris(sentence, sentence=True) is None, sentence
