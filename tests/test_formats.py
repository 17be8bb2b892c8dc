"""Ingest format readers: what a maintainer pasting labels or loading dumps would notice."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kb.formats import FORMATS, FormatError, detect_format, read_path
from kb.formats import label
from kb.records import RecordError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared test data not found at {DATA} (only CI and the team checkout have it)")

AMOXICILLIN = """\
核准日期：2007年03月20日
阿莫西林胶囊说明书
请仔细阅读说明书并在医师指导下使用
【药品名称】
通用名称：阿莫西林胶囊
商品名称：阿莫仙®
英文名称：Amoxicillin Capsules
汉语拼音：Amoxilin Jiaonang
【成份】本品主要成份为阿莫西林。
【 适应症 】
阿莫西林适用于敏感菌所致的下列感染：
1.溶血链球菌、肺炎链球菌所致中耳炎、鼻窦炎、咽炎。2.大肠埃希菌所致的泌尿生殖道感染。
【用法用量】口服。成人一次0.5g，每6～8小时1次。
用法：口服
【不良反应】①恶心、呕吐；②皮疹；③药物热。
［禁忌］青霉素过敏者禁用。
【批准文号】国药准字 H44021351
"""

IBUPROFEN_COLON_STYLE = """\
乙类非处方药
药品名称：布洛芬缓释胶囊
适应症：用于缓解轻至中度疼痛。
用法用量:口服，一次1粒。
不良反应：（1）少数病人可出现恶心；（2）偶见皮疹。
禁忌：对本品过敏者禁用
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def records(path: Path):
    return [r.validate() for r in read_path(path)]


# --- drug labels -------------------------------------------------------------------------------


def test_label_name_aliases_sections_and_approval(tmp_path):
    [drug] = records(write(tmp_path, "amoxicillin.txt", AMOXICILLIN))
    assert drug.type == "drug"
    assert drug.name == "阿莫西林胶囊"
    # Trade and English names are how people ask; pinyin is not; the bare ingredient is the dosage-form-free alias.
    assert drug.aliases == ["阿莫仙", "Amoxicillin Capsules", "阿莫西林"]
    assert drug.approval_number == "国药准字H44021351"
    kinds = [s.kind for s in drug.sections]
    assert kinds == ["药品名称", "成份", "适应症", "用法用量", "不良反应", "禁忌", "批准文号"]
    assert drug.section("不良反应").items == ["恶心、呕吐", "皮疹", "药物热"]
    assert drug.section("适应症").items[1:] == ["溶血链球菌、肺炎链球菌所致中耳炎、鼻窦炎、咽炎", "大肠埃希菌所致的泌尿生殖道感染"]
    assert "用法：口服" in drug.section("用法用量").text  # "用法：" inside 用法用量 is text, not a new section
    assert "每6～8小时1次" in drug.section("用法用量").text  # the dose range's full-width tilde as written
    assert drug.where.endswith("amoxicillin.txt:line 2")  # the title line starts the label


def test_several_labels_per_file_in_mixed_styles(tmp_path):
    text = AMOXICILLIN + "OTC\n---\n" + IBUPROFEN_COLON_STYLE + "【通用名称】对乙酰氨基酚片\n【功能主治】解热镇痛\n"
    drugs = records(write(tmp_path, "labels.txt", text))
    assert [d.name for d in drugs] == ["阿莫西林胶囊", "布洛芬缓释胶囊", "对乙酰氨基酚片"]
    amox, ibu, para = drugs
    assert amox.otc_class == "OTC"  # the OTC line above the separator closes the first label
    assert ibu.otc_class == "乙类OTC"
    assert ibu.section("不良反应").items == ["少数病人可出现恶心", "偶见皮疹"]
    assert ibu.aliases == ["布洛芬"]
    assert ibu.where.endswith("labels.txt:line 20")
    assert para.section("适应症").title == "功能主治"
    assert para.aliases == ["对乙酰氨基酚"]


def test_full_width_and_spaced_headers(tmp_path):
    text = "［药品名称］\n通用名称：维生素Ｃ片\n【 用 法 用 量 】一次１片\n功能主治：预防坏血病\n［成份］维生素C\n"
    [drug] = records(write(tmp_path, "vc.txt", text))
    assert drug.name == "维生素C片"
    assert drug.section("成份").text == "维生素C"
    # A colon header in a 【】-style label is text of the section above it ("用法：", "禁用：" usually are).
    assert drug.section("用法用量").text == "一次1片\n功能主治：预防坏血病"
    assert drug.aliases == ["维生素C"]


def test_otc_classes_and_injection_prefix():
    [inj] = label.parse_text("甲类非处方药\n【药品名称】注射用头孢曲松钠\n【适应症】敏感菌感染。")
    assert inj.otc_class == "甲类OTC"
    assert inj.name == "注射用头孢曲松钠" and inj.aliases == ["头孢曲松钠", "头孢曲松"]
    [rx] = label.parse_text("处方药\n【药品名称】\n通用名称：头孢克肟分散片\n【适应症】感染")
    assert rx.otc_class == "Rx" and rx.aliases == ["头孢克肟"]


def test_dosage_form_alias_only_when_something_remains():
    assert label.strip_dosage_form("布洛芬缓释胶囊") == "布洛芬"
    assert label.strip_dosage_form("盐酸氨溴索口服溶液") == "盐酸氨溴索"
    assert label.strip_dosage_form("六味地黄丸") == "六味地黄"
    assert label.strip_dosage_form("维C片") == "维C"
    assert label.strip_dosage_form("片") is None
    assert label.strip_dosage_form("阿司匹林") is None


def test_label_without_name_names_file_and_line(tmp_path):
    text = AMOXICILLIN + "---\n\n【成份】本品主要成份为布洛芬。\n【适应症】头痛\n"
    path = write(tmp_path, "broken.txt", text)
    with pytest.raises(RecordError) as err:
        records(path)
    assert "broken.txt:line 20" in str(err.value)
    assert "通用名称/药品名称" in str(err.value)


def test_run_on_paste_from_a_web_page():
    text = "【药品名称】通用名称：阿莫西林胶囊 商品名称：阿莫仙 英文名称：Amoxicillin Capsules【成份】阿莫西林。【适应症】中耳炎。详见【注意事项】。"
    [drug] = label.parse_text(text)
    assert drug.name == "阿莫西林胶囊" and drug.aliases[:2] == ["阿莫仙", "Amoxicillin Capsules"]
    assert [s.kind for s in drug.sections] == ["药品名称", "成份", "适应症"]  # "详见【注意事项】" is a reference


def test_gb18030_label_is_read(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes(AMOXICILLIN.encode("gb18030"))
    assert detect_format(path) == "label"
    [drug] = records(path)
    assert drug.name == "阿莫西林胶囊"
    json_path = tmp_path / "gbk.json"
    json_path.write_bytes(json.dumps(DISEASE, ensure_ascii=False).encode("gb18030"))
    with pytest.raises(FormatError, match=r"gbk\.json: not UTF-8 \(it decodes as GB18030\)"):
        records(json_path)  # JSON is UTF-8 by definition: say how to convert rather than guess


# --- yiju JSON / JSONL -------------------------------------------------------------------------

DRUG = {
    "type": "drug",
    "name": "布洛芬缓释胶囊",
    "aliases": ["芬必得"],
    "otc_class": "乙类OTC",
    "sections": {"功能主治": "缓解疼痛", "不良反应": ["恶心", "呕吐"], "禁忌": {"text": "孕妇禁用", "items": ["孕妇"]}},
}
DISEASE = {"type": "disease", "name": "百日咳", "sections": {"症状": ["痉挛性咳嗽"], "鉴别诊断": "支气管异物"}}


def test_yiju_json_object_list_and_jsonl(tmp_path):
    [drug] = records(write(tmp_path, "one.json", json.dumps(DRUG, ensure_ascii=False)))
    assert drug.section("适应症").text == "缓解疼痛" and drug.section("适应症").title == "功能主治"
    assert drug.section("不良反应").text == "恶心、呕吐"
    assert drug.section("禁忌").items == ["孕妇"]
    assert drug.otc_class == "乙类OTC" and drug.aliases == ["芬必得"]
    assert len(records(write(tmp_path, "many.json", json.dumps([DRUG, DISEASE], ensure_ascii=False)))) == 2
    jsonl = "\n".join(json.dumps(r, ensure_ascii=False) for r in (DRUG, DISEASE)) + "\n\n"
    drug, disease = records(write(tmp_path, "many.jsonl", jsonl))
    assert disease.section("鉴别诊断").text == "支气管异物"  # unknown kinds are kept as free text
    assert disease.where.endswith("many.jsonl:line 2 (百日咳)")


def test_yiju_json_unknown_key_is_named(tmp_path):
    bad = dict(DISEASE, alias=["pertussis"])
    path = write(tmp_path, "bad.jsonl", json.dumps(DRUG, ensure_ascii=False) + "\n" + json.dumps(bad, ensure_ascii=False))
    with pytest.raises(RecordError, match=r"bad\.jsonl:line 2 \(百日咳\): unknown key 'alias'"):
        records(path)


def test_truncated_json_names_file_and_line(tmp_path):
    text = json.dumps([DRUG, DISEASE], ensure_ascii=False, indent=1)
    path = write(tmp_path, "cut.json", text[: len(text) // 2])
    with pytest.raises(FormatError, match=r"cut\.json:line \d+: invalid JSON.*truncated"):
        records(path)
    jsonl = json.dumps(DRUG, ensure_ascii=False) + "\n" + json.dumps(DISEASE, ensure_ascii=False)[:30] + "\n"
    with pytest.raises(RecordError, match=r"cut\.jsonl:line 2: invalid JSON"):  # one record: --skip-invalid skips it
        records(write(tmp_path, "cut.jsonl", jsonl))


# --- detection and directories -----------------------------------------------------------------


def test_detect_format_by_content(tmp_path):
    assert detect_format(write(tmp_path, "a.txt", AMOXICILLIN)) == "label"
    assert detect_format(write(tmp_path, "b.txt", IBUPROFEN_COLON_STYLE)) == "label"
    assert detect_format(write(tmp_path, "c.data", json.dumps(DRUG, ensure_ascii=False))) == "json"
    assert detect_format(write(tmp_path, "d.json", '{"_id": {"$oid": "1"}, "name": "x", "symptom": []}\n')) == "medical-json"
    assert detect_format(write(tmp_path, "e.json", '{"0": {"gaishu_info": {"name": "x"}}}')) == "xywy"
    assert detect_format(write(tmp_path, "f.txt", "[成份] 阿莫西林\n")) == "label"  # "[" that is not JSON


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("latin.txt", bytes(range(0x80, 0x100)) * 4, "not UTF-8"),
        ("empty.txt", b"  \n\n", "empty"),
        ("notes.txt", "今天天气很好。\n明天见。\n".encode(), "unknown format"),
        ("other.json", b'{"hello": "world"}', "not a format we know"),
    ],
)
def test_detect_format_errors_name_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FormatError) as err:
        detect_format(path)
    assert name in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_read_path_walks_directories_and_skips_readme_and_hidden(tmp_path):
    write(tmp_path, "README.md", "# notes: 【成份】 looks like a label but is a README")
    write(tmp_path, ".hidden.json", json.dumps(DRUG, ensure_ascii=False))
    (tmp_path / "sub").mkdir()
    write(tmp_path, "sub/b.jsonl", json.dumps(DISEASE, ensure_ascii=False))
    write(tmp_path, "a.txt", AMOXICILLIN)
    assert [r.name for r in records(tmp_path)] == ["阿莫西林胶囊", "百日咳"]
    with pytest.raises(FormatError, match="unknown format 'pdf'"):
        list(read_path(tmp_path, fmt="pdf"))
    assert set(FORMATS) == {"label", "json", "medical-json", "xywy"}


# --- medical.json, xywy and CMeKG --------------------------------------------------------------


def test_medical_json_fields_map_to_sections(tmp_path):
    obj = {
        "_id": {"$oid": "5bb578b6831b973a137e3ee7"}, "name": "百日咳", "desc": "急性呼吸道传染病。",
        "category": ["疾病百科", "儿科"], "symptom": ["痉挛性咳嗽", "低热"], "common_drug": ["穿心莲内酯片"],
        "recommand_drug": ["百咳静糖浆", "穿心莲内酯片"], "drug_detail": ["北京同仁堂百咳静糖浆(百咳静糖浆)", "达发新(环酯红霉素片)"],
        "do_eat": ["鸡蛋"], "not_eat": ["螃蟹"], "recommand_eat": ["清蒸鸡蛋羹"], "cure_department": ["儿科"],
    }
    path = write(tmp_path, "medical.json", json.dumps([obj], ensure_ascii=False))
    [disease] = records(path)
    assert disease.section("常用药物").items == ["穿心莲内酯片", "百咳静糖浆", "环酯红霉素片"]
    assert disease.section("症状").text == "痉挛性咳嗽、低热"
    assert (disease.section("宜吃").items, disease.section("忌吃").items, disease.section("饮食").items) == (["鸡蛋"], ["螃蟹"], ["清蒸鸡蛋羹"])
    assert disease.where.endswith("medical.json#record 1 (百日咳)")


@needs_data
def test_medical_json_sample():
    path = DATA / "medicalkg-original-sample" / "medical1.json"
    assert detect_format(path) == "medical-json"
    diseases = records(path)
    assert len(diseases) == 308
    pertussis = next(d for d in diseases if d.name == "百日咳")
    assert "琥乙红霉素颗粒" in pertussis.section("常用药物").items  # found only in drug_detail
    assert pertussis.where.endswith("medical1.json:line 2 (百日咳)")


@needs_data
def test_xywy_first_file():
    path = DATA / "xywy-disease-kb" / "medical_0.json"
    assert detect_format(path) == "xywy"
    diseases = records(path)
    assert len(diseases) == 500
    pertussis = diseases[0]
    assert pertussis.name == "百日咳" and pertussis.where.endswith("medical_0.json#record 0 (百日咳)")
    symptoms = pertussis.section("症状")
    assert "痉挛性咳嗽" in symptoms.items and "潜伏期" in symptoms.text  # detail paragraphs are the text
    assert pertussis.section("常用药物").items == ["穿心莲内酯片", "百咳静糖浆"]
    assert "宜吃清淡" in pertussis.section("饮食").text
    # what to eat and what to avoid keep their labels: an avoid list alone reads as advice to eat it
    assert [line[:2] for line in pertussis.section("饮食").text.splitlines()] == ["宜：", "忌："]


@needs_data
def test_xywy_all_files_parse_fast():
    start = time.perf_counter()
    n = sum(1 for _ in read_path(DATA / "xywy-disease-kb", fmt="xywy"))
    assert n == 8792
    assert time.perf_counter() - start < 10


def test_cmekg_drugs_diseases_exams():
    pytest.importorskip("pyCMeKG", reason="pycmekg not installed (pip install 'yiju[cmekg]')")
    from kb.formats import cmekg

    records_, stats = cmekg.read_with_stats()
    assert stats["drug"] > 10_000 and stats["disease"] > 5_000 and stats["exam"] > 1_000
    assert stats["drug"] + stats["disease"] + stats["exam"] + stats["skipped"] == 27_403
    by_name = {r.name: r for r in records_}
    esomeprazole = by_name["埃索美拉唑镁肠溶片"].validate()
    assert esomeprazole.type == "drug" and esomeprazole.otc_class == "乙类OTC" and "耐信" in esomeprazole.aliases
    gout = by_name["痛风"].validate()
    assert gout.type == "disease" and gout.section("ICD10").text == "M10"
    assert gout.section("常用药物").title == "药物治疗" and gout.where == "cmekg#痛风"
    assert by_name["尿素检查"].type == "exam" and by_name["尿素检查"].section("相关疾病").items


def test_drug_name_aliases_drop_dosage_form_and_salt_but_not_other_substances():
    from kb.formats.label import drug_name_aliases

    assert drug_name_aliases("盐酸二甲双胍片") == ["盐酸二甲双胍", "二甲双胍"]
    assert drug_name_aliases("硫酸氢氯吡格雷片") == ["硫酸氢氯吡格雷", "氯吡格雷"]
    assert drug_name_aliases("华法林钠片") == ["华法林钠", "华法林"]
    assert drug_name_aliases("琥珀酸亚铁片") == ["琥珀酸亚铁"]  # 亚铁 is not the drug's name
    assert drug_name_aliases("氯化钾缓释片") == ["氯化钾"]
    assert drug_name_aliases("葡萄糖酸钙片") == ["葡萄糖酸钙"]
    # a two-character remainder is a word people use for something else ("减肥", "感冒"), not the drug's name
    assert drug_name_aliases("减肥胶囊") == [] and drug_name_aliases("感冒颗粒") == []


@pytest.mark.parametrize("raw,clean", [
    ("阿莫西林胶囊", "阿莫西林胶囊"),  # clean text comes back as it is (the fast path)
    ("  一次 0.5g \n", "一次 0.5g"),
    ("一次０．５ｇ，每日３次", "一次0.5g，每日3次"),  # wide digits fold, Chinese punctuation stays
    ("口服\t一次  1片", "口服 一次 1片"),
    ("第一段\n  \n\n第二段", "第一段\n第二段"),
    ("a\r\nb\rc", "a\nb\nc"),
    ("空格\u3000全角", "空格 全角"),
    ("单个 空格 与\n换行", "单个 空格 与\n换行"),
])
def test_clean_text(raw, clean):
    from kb.names import clean_text

    assert clean_text(raw) == clean
