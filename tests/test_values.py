"""chat.values: report values read from a message and set against the KB's reference intervals, cited; through
the pipeline on the demo KB (its 肝功能, 血常规, 空腹血糖… entries hold the intervals)."""

from __future__ import annotations

import pytest

from chat.values import Interval, Reading, TESTS, compare, intervals, read
from tests.test_real_questions import demo  # noqa: F401  (the demo KB's pipeline, a fixture)


def said(text: str) -> list[tuple[str, float]]:
    return [(r.test.label, r.value) for r in read(text)]


@pytest.mark.parametrize("text, expected", [
    ("今天做了肝功能，谷草转氨酶458.4，谷丙转氨酶342.4，总胆红素32.4",
     [("谷草转氨酶（AST）", 458.4), ("谷丙转氨酶（ALT）", 342.4), ("总胆红素", 32.4)]),
    ("ALT从89降到65，有轻度脂肪肝", [("谷丙转氨酶（ALT）", 65)]),  # the value now
    ("HBsAg阳性，ALT;280", [("谷丙转氨酶（ALT）", 280)]),
    ("大三阳，乙肝病毒5.86??10的7次方", [("乙肝病毒DNA", 5.86e7)]),
    ("小三阳HBV-DNA病毒数为9.32*10的4次方", [("乙肝病毒DNA", 9.32e4)]),
    ("乙肝DNA1.15E+03有点高", [("乙肝病毒DNA", 1150)]),
    ("糖化血红蛋白7.2%，空腹血糖8.1", [("糖化血红蛋白", 7.2), ("空腹血糖", 8.1)]),  # not also 血红蛋白
    ("空腹血糖7.68，空腹胰岛素2.4，空腹6.2", [("空腹血糖", 6.2)]),  # insulin is no glucose; the last value told
    ("谷丙转氨酶是55（参考值是5-40）", []),  # the message's own range: measures_line's
    ("抗双链DNA抗体 1:100", []),  # a bare DNA outside hepatitis B
    ("血红蛋白9.8g/dL", []),  # another unit: outside what g/L can be
    ("尿白细胞3个，尿肌酐检查", []),  # urine, not blood
    ("丙氨酸氨基转移酶35.2天门冬氨酸氨基转26.9.AIT/AST1.31.", [("谷丙转氨酶（ALT）", 35.2), ("谷草转氨酶（AST）", 26.9)]),
    ("2013年发现乙肝，当时谷丙转氨酶90，现在一切正常了", []),  # a value of the past
    ("去年谷丙转氨酶90，现在复查谷丙转氨酶60", [("谷丙转氨酶（ALT）", 60)]),
])
def test_a_report_value_is_read_with_the_test_it_belongs_to(text, expected):
    got = said(text)
    assert [label for label, _ in got] == [label for label, _ in expected], got
    assert [value for _, value in got] == pytest.approx([value for _, value in expected])


def test_an_interval_is_read_after_its_tests_name_by_sex():
    text = "ALT 男性9～50U/L，女性7～40U/L；AST 男性15～40U/L，女性13～35U/L；总胆红素约3.4～20.5μmol/L（不同方法差异较大）。"
    assert intervals(text, "ALT") == [Interval("男性", 9, 50, "U/L"), Interval("女性", 7, 40, "U/L")]
    assert intervals(text, "总胆红素") == [Interval("", 3.4, 20.5, "μmol/L")]
    assert intervals("一般人群合适水平：总胆固醇<5.2mmol/L；LDL-C<3.4mmol/L", "LDL-C") == [Interval("", None, 3.4, "mmol/L")]
    assert intervals(text, "GGT") == []


def test_where_a_value_lies_is_said_for_both_sexes_unless_the_sex_is_known():
    alt = next(t for t in TESTS if t.label.startswith("谷丙"))
    both = [Interval("男性", 9, 50, "U/L"), Interval("女性", 7, 40, "U/L")]
    assert compare(Reading(alt, 342.4, "342.4"), both) == \
        "谷丙转氨酶（ALT）342.4：高于参考区间上限（男性50、女性40），约为上限的6.8～8.6倍，明显超出，建议尽快（近日内）就医复查，不要拖"
    assert compare(Reading(alt, 45, "45"), both).endswith("是否超出参考区间要看性别（男性9～50U/L、女性7～40U/L）")
    assert compare(Reading(alt, 45, "45"), both, "男").endswith("在参考区间内")
    assert compare(Reading(alt, 45, "45"), both, "女").endswith("高于参考区间上限（女性40）")
    assert compare(Reading(alt, 5, "5"), both).endswith("低于参考区间下限（男性9、女性7）")
    assert compare(Reading(alt, 60, "60"), []) == ""


def test_the_pipeline_says_each_value_against_the_kbs_interval_and_cites_it(demo):
    a = demo.answer("我今天查肝功能，谷丙转氨酶120，谷草转氨酶90，要紧吗")
    line = a.text.split("\n")[0]
    assert "谷丙转氨酶（ALT）120：高于参考区间上限（男性50、女性40），约为上限的2.4～3倍" in line, a.text
    n = next(c.n for c in a.citations if c.entity == "肝功能" and c.section == "正常值")
    assert f"[{n}]" in line
    # no KB entry answers a bare haemoglobin with tiredness: the value is still read, and cited
    b = demo.answer("女，30岁，血红蛋白98，头晕乏力")
    assert "血红蛋白98：低于参考区间下限（女性115）" in b.text and any(c.entity == "血常规" for c in b.citations), b.text
    # hepatitis B's viral load is read with its entry's 临床意义
    c = demo.answer("我是乙肝大三阳，HBV-DNA 1.41*10^5，严重吗")
    assert "说明病毒在复制" in c.text and any(x.entity == "乙肝病毒DNA定量" for x in c.citations), c.text
