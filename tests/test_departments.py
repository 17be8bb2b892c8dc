"""Issue 18: where to go first, as the KB's own entries say (retriever.departments), and never on a word every
department lists or on a site alone that points nowhere in particular."""

from __future__ import annotations

from retriever.departments import DepartmentGuide
from retriever.symptoms import InquiryState, SymptomIndex

DISEASES = {
    1: ("阴道炎", {"白带异常", "外阴瘙痒", "白带发黄"}, {"妇科", "妇产科"}),
    2: ("宫颈炎", {"白带异常", "白带增多", "腰痛"}, {"妇科"}),
    3: ("盆腔炎", {"白带增多", "下腹痛", "发热"}, {"妇科", "妇产科"}),
    4: ("牙周炎", {"牙龈出血", "牙齿松动", "口臭"}, {"口腔科"}),
    5: ("智齿冠周炎", {"牙龈肿痛", "张口受限", "发热"}, {"口腔科", "五官科"}),
    6: ("龋齿", {"牙齿疼痛", "牙齿变黑"}, {"口腔科"}),
    7: ("小儿龋齿", {"牙齿疼痛", "牙齿变黑"}, {"儿科", "口腔科"}),
    8: ("感冒", {"发热", "咳嗽", "流涕"}, {"内科", "呼吸内科"}),
    9: ("肺炎", {"咳嗽", "咳痰"}, {"内科", "呼吸内科"}),
    10: ("胃炎", {"腹痛", "恶心", "发热"}, {"内科", "消化内科"}),
    11: ("肿瘤", {"消瘦", "发热"}, {"肿瘤科"}),
}


def guide() -> DepartmentGuide:
    index = SymptomIndex({d: n for d, (n, _, _) in DISEASES.items()}, {d: s for d, (_, s, _) in DISEASES.items()},
                         departments={d: deps for d, (_, _, deps) in DISEASES.items()})
    return DepartmentGuide.from_store(None, index)  # the index keeps the departments: no store needed


def direction(text: str, **patient):
    g = guide()
    present, absent = g.symptoms.find(text)
    return g.direction(text, InquiryState(present, absent, **patient))


def test_findings_point_to_the_department_their_entries_list():
    d = direction("白带发黄，还有白带增多，怎么回事")
    assert d is not None and d.department == "妇科" and d.entries == 3


def test_a_body_site_alone_points_where_a_clear_majority_of_its_entries_are_seen():
    d = direction("大牙后面长了一颗牙，被肉包了一大半")  # no finding the KB lists, but the site "牙"
    assert d is not None and d.department == "口腔科"


def test_a_lone_finding_listed_by_few_entries_points_nowhere_and_oncology_is_never_a_first_direction():
    # 发热 alone: five entries in five departments; a single finding needs MIN_LONE_ENTRIES to point anywhere
    assert direction("发热两天了") is None
    assert direction("消瘦") is None  # one entry, in 肿瘤科: too few, and never a first direction


def test_two_findings_point_to_the_specific_department_with_a_clear_share():
    # 发热 + 咳嗽: six entries; 呼吸内科 holds two (a third), before the umbrella 内科
    assert direction("发热两天了，还咳嗽").department == "呼吸内科"


def test_a_childs_complaint_goes_to_paediatrics_when_the_kb_points_to_no_specific_department():
    assert direction("孩子发热两天了", child=True).department == "儿科"


def test_a_pregnancy_test_goes_to_obstetrics_when_the_kb_points_nowhere():
    assert direction("例假推迟15天了，测了两次都是一道深一道浅").department == "妇产科"
    assert direction("例假推迟15天了") is None  # no pregnancy said, no entries: no direction
