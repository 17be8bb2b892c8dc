"""Training behaviour on a tiny random model with a locally trained tokenizer (seconds, no downloads).

What a user would notice: the loss falls, the saved adapter is the trained one, merging changes
nothing, the tuned model stops at the end of its turn instead of rambling, prefix tuning works too.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

from chat.generators import SYSTEM_PROMPT
from chat.generators import complete, stop_token_ids, turn_end
from finetune.model import (
    IGNORE,
    TARGET_MODULES,
    collate,
    encode,
    load_for_inference,
    load_tokenizer,
    merge,
    render,
    target_modules_for,
)
from finetune.prompts import REFUSAL, rag_messages
from finetune.config import (CONFIG_FILE, BudgetConfig, DataConfig, LoRAConfig, ModelConfig, OptimConfig, OutputConfig,
                             TrainConfig)
from finetune.train import train
from retriever.hits import Passage

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] + '<|end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
DRUGS = ["阿莫西林", "布洛芬", "头孢克肟", "氯雷他定", "奥美拉唑", "二甲双胍", "硝苯地平", "阿司匹林"]
ITEMS = ["中耳炎", "咽炎", "发热", "头痛", "胃溃疡", "糖尿病", "高血压", "过敏性鼻炎", "皮疹", "恶心"]


def corpus_lines() -> list[str]:
    rng = random.Random(0)
    lines = [SYSTEM_PROMPT, REFUSAL]
    for _ in range(300):
        d, a, b = rng.choice(DRUGS), rng.choice(ITEMS), rng.choice(ITEMS)
        lines += [f"{d}的适应病症包括：{a}、{b}[1]。", f"[2] {d} · 适应症：用于{a}、{b}等。", f"问题：{d}有哪些不良反应？"]
    return lines


def passage(eid: int, name: str, section: str, body: str) -> Passage:
    return Passage(f"e{eid}:{section}:demo:0", eid, "drug", name, section, f"{name} · {section}：{body}", "demo", 1, "h")


def examples(n: int = 4) -> list[dict]:
    out = []
    for i in range(n):
        d, a, b = DRUGS[i], ITEMS[i], ITEMS[i + 3]
        passages = [passage(i, d, "适应症", f"用于{a}、{b}。"), passage(i + 1, DRUGS[i + 1], "不良反应", f"{ITEMS[i + 4]}。")]
        out.append({"messages": rag_messages(f"{d}的适应病症是什么？", passages, f"{d}的适应病症包括：{a}、{b}。[1]")})
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 2-layer LLaMA (hidden 48) and a byte-level BPE tokenizer trained here, saved as a model folder.

    initializer_range 0.3: with the usual 0.02 the frozen output head is so small that no adapter can
    move the logits, and nothing could be overfitted.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-llama")
    specials = ["<pad>", "<unk>", "<bos>", "<eos>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus_lines(), trainers.BpeTrainer(
        vocab_size=700, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                  unk_token="<unk>", additional_special_tokens=specials[4:])
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, initializer_range=0.3,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    data = folder / "data"
    data.mkdir()
    with open(data / "train.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(ex, ensure_ascii=False) + "\n" for ex in examples())
    (data / "dev.jsonl").write_text((data / "train.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def lora_run(tiny, tmp_path_factory):
    """LoRA overfitted on 4 examples (the shared run for the tests below)."""
    out = tmp_path_factory.mktemp("lora-run")
    report = train(TrainConfig(ModelConfig(tiny), DataConfig(tiny / "data"),
                               lora=LoRAConfig(method="lora", r=8, alpha=16, dropout=0.0),
                               optim=OptimConfig(micro_batch_size=4, grad_accum=1, learning_rate=2e-2, warmup_steps=2),
                               budget=BudgetConfig(max_steps=60),
                               output=OutputConfig(out, save_interval=30, eval_interval=30, log_interval=100),
                               threads=2, seed=0))
    return report, out


def logits(model, tok, text="阿莫西林的适应病症是什么？"):
    ids = tok(text, return_tensors="pt").input_ids
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_chat_template_end_of_turn_is_a_stop_token(tiny):
    from finetune.model import load_tokenizer

    tok = load_tokenizer(tiny)
    assert turn_end(tok) == "<|end|>\n"
    assert stop_token_ids(tok) == [tok.convert_tokens_to_ids("<|end|>"), tok.eos_token_id]


def test_labels_cover_only_the_answer_and_its_end_of_turn(tiny):
    from finetune.model import load_tokenizer

    tok = load_tokenizer(tiny)
    ex = encode(tok, examples(1)[0]["messages"])
    answer_ids = [t for t, l in zip(ex["input_ids"], ex["labels"]) if l != IGNORE]
    assert tok.decode(answer_ids) == "阿莫西林的适应病症包括：中耳炎、头痛。[1]<|end|>\n<eos>"
    assert ex["labels"][: len(ex["labels"]) - len(answer_ids)] == [IGNORE] * (len(ex["labels"]) - len(answer_ids))
    assert encode(tok, examples(1)[0]["messages"], max_len=10) is None  # too long: dropped, never cut
    batch = collate([ex, encode(tok, examples(2)[1]["messages"])], tok.pad_token_id)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape


def test_loss_falls_when_overfitting(lora_run):
    report, out = lora_run
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert history[0]["loss"] > 3.0
    assert report.train_loss < 0.2 * history[0]["loss"]
    assert (out / "loss.png").stat().st_size > 1000
    hp = json.loads((out / "final" / "hparams.json").read_text())
    assert hp["lora_r"] == 8 and hp["step"] == 60 and hp["stop_token_ids"] and "prompt_style" in hp
    assert (out / "step-000030" / "trainer_state.pt").exists()


def test_adapter_save_and_reload_give_the_same_logits(tiny, lora_run):
    report, out = lora_run
    model, tok = load_for_inference(tiny, out / "final")
    base, _ = load_for_inference(tiny)
    report.model.eval()
    trained = logits(report.model, tok)
    assert torch.allclose(logits(model, tok), trained, atol=1e-5)
    assert not torch.allclose(logits(base, tok), trained, atol=1e-2)  # the adapter does something


def test_merged_equals_unmerged(tiny, lora_run, tmp_path):
    _, out = lora_run
    merged_dir = merge(tiny, out / "final", tmp_path / "merged")
    merged, tok = load_for_inference(merged_dir)
    unmerged, _ = load_for_inference(tiny, out / "final")
    assert torch.allclose(logits(merged, tok), logits(unmerged, tok), atol=1e-4)
    assert (merged_dir / "tokenizer_config.json").exists()
    assert json.loads((merged_dir / "generation_config.json").read_text())["eos_token_id"] == stop_token_ids(tok)


def test_generation_with_the_adapter_stops_at_end_of_turn(tiny, lora_run):
    _, out = lora_run
    ex = examples()[0]["messages"]
    model, tok = load_for_inference(tiny, out / "final")
    prompt = render(tok, ex[:-1], add_generation_prompt=True)
    g = complete(model, tok, prompt, max_new_tokens=80, stop_ids=stop_token_ids(tok))
    assert g.stopped and g.new_tokens < 80
    assert g.text == ex[-1]["content"]
    base, _ = load_for_inference(tiny)
    untrained = complete(base, tok, prompt, max_new_tokens=20, stop_ids=stop_token_ids(tok))
    assert not untrained.stopped and untrained.new_tokens == 20  # untrained: runs to the limit


def test_resume_continues_from_a_checkpoint(tiny, lora_run, tmp_path):
    _, out = lora_run
    import shutil

    shutil.copytree(out / "step-000030", tmp_path / "step-000030")
    report = train(TrainConfig.load(tmp_path / "step-000030" / CONFIG_FILE).with_options(
        out_dir=tmp_path, max_steps=32, resume="auto", eval_interval=0, threads=None))
    assert report.steps == 32
    assert json.loads((tmp_path / "final" / "hparams.json").read_text())["step"] == 32


def test_prefix_tuning_trains_and_reloads(tiny, tmp_path):
    report = train(TrainConfig(ModelConfig(tiny), DataConfig(tiny / "data"), seed=0).with_options(
        out_dir=tmp_path, method="prefix", num_virtual_tokens=8, micro_batch_size=4, grad_accum=1, learning_rate=3e-1,
        warmup_steps=1, max_steps=40, eval_interval=0, log_interval=100, save_interval=0))
    history = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert report.train_loss < 0.5 * history[0]["loss"]  # 768 parameters: slower than LoRA, but it learns
    model, tok = load_for_inference(tiny, tmp_path / "final")
    report.model.eval()
    ids = tok("阿莫西林", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, report.model(input_ids=ids).logits, atol=1e-5)
    from finetune.model import ModelError

    with pytest.raises(ModelError, match="cannot be merged"):
        merge(tiny, tmp_path / "final", tmp_path / "merged")


def test_target_modules_are_chosen_per_architecture(tiny):
    from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel

    llama = AutoModelForCausalLM.from_pretrained(tiny)
    assert target_modules_for(llama) == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert target_modules_for(llama, "q_proj,v_proj") == ["q_proj", "v_proj"]
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50))
    assert target_modules_for(gpt2) == ["c_attn", "c_proj", "c_fc"]


def test_cli_train_reports_json_and_bad_input_exits_1(tiny, tmp_path):
    from typer.testing import CliRunner

    from finetune.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["train", "--model", str(tiny), "--data", str(tiny / "data"), "--out",
                                 str(tmp_path / "run"), "--max-steps", "2", "--micro-batch-size", "2",
                                 "--grad-accum", "1", "--eval-interval", "0", "--lora-r", "4", "--lora-alpha", "8",
                                 "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # the one JSON document on stdout
    assert doc["steps"] == 2 and doc["checkpoint"].endswith("final") and doc["tokens_per_second"] > 0
    # every option reaches the config by its flat name; the config is saved beside the checkpoint and read back
    hparams = json.loads((Path(doc["checkpoint"]) / "hparams.json").read_text())
    assert (hparams["lora_r"], hparams["lora_alpha"], hparams["micro_batch_size"]) == (4, 8, 2)
    saved = TrainConfig.load(Path(doc["checkpoint"]) / CONFIG_FILE)
    assert (saved.lora.r, saved.lora.alpha, saved.optim.micro_batch_size, saved.budget.max_steps) == (4, 8, 2, 2)
    settings = {**saved.flat(), "target_modules": hparams["target_modules"]}  # hparams: the modules it chose
    assert settings == {k: v for k, v in hparams.items() if k in settings}
    again = runner.invoke(app, ["train", "--config", str(Path(doc["checkpoint"]) / CONFIG_FILE), "--out",
                                str(tmp_path / "again"), "--max-steps", "1", "--json"])
    assert again.exit_code == 0, again.output
    rerun = TrainConfig.load(tmp_path / "again" / "final" / CONFIG_FILE)
    assert rerun == saved.with_options(out_dir=tmp_path / "again", max_steps=1)  # the rest as saved, not defaults
    assert runner.invoke(app, ["train", "--data", str(tiny / "data")]).exit_code == 2  # no --model, no --config
    bad = runner.invoke(app, ["train", "--config", str(tiny / "data" / "train.jsonl")])
    assert bad.exit_code == 1 and "not a training config" in bad.output and "Traceback" not in bad.output
    result = runner.invoke(app, ["train", "--model", str(tmp_path / "nope"), "--data", str(tiny / "data")])
    assert result.exit_code == 1 and "no such model folder" in result.output
    assert runner.invoke(app, ["train", "--model", str(tiny), "--data", str(tiny / "data"),
                               "--method", "adapter"]).exit_code == 2


def test_eval_runs_chat_generators_side_by_side(tiny, lora_run, tmp_path):
    from finetune.data import Question
    from finetune.evaluate import bar_chart, cases_for, make_generator, markdown_table, run, summarize

    _, out = lora_run
    d, a, b = DRUGS[0], ITEMS[0], ITEMS[3]
    q = Question(f"{d}的适应病症是什么？", 0, "drug", d, "适应症", [a, b], "")
    shown = [passage(0, d, "适应症", f"用于{a}、{b}。"), passage(1, DRUGS[1], "不良反应", f"{ITEMS[4]}。")]
    generators = [make_generator("extractive"), make_generator(f"base=hf:{tiny}@closed", max_new_tokens=8),
                  make_generator(f"hf:{tiny}+{out / 'final'}", max_new_tokens=40)]
    cases = cases_for([q], lambda question, k: shown[:k], k=2, unanswerable=1)
    assert [p.id for p in cases[1].passages] == [shown[1].id]  # the gold passage is withheld
    results = run(generators, cases, log_path=tmp_path / "a.jsonl")
    summary = {label: summarize(rows) for label, rows in results.items()}
    assert list(summary) == ["extractive", "base", "tiny-llama0 + LoRA lora-run0 + retrieval"]
    tuned = results["tiny-llama0 + LoRA lora-run0 + retrieval"][0]
    assert tuned.answer == f"{d}的适应病症包括：{a}、{b}。[1]" and tuned.stopped  # the tuned answer, cited
    assert summary["tiny-llama0 + LoRA lora-run0 + retrieval"]["criterion_3"] == 1.0
    assert summary["tiny-llama0 + LoRA lora-run0 + retrieval"]["citation_precision"] == 1.0
    assert summary["extractive"]["criterion_1"] == 1.0 and summary["extractive"]["unanswerable"] == 1
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 5  # closed-book skips the unanswerable case
    bar_chart(summary, tmp_path / "chart.png")
    assert (tmp_path / "chart.png").stat().st_size > 1000 and "| base | 1 |" in markdown_table(summary)


def test_recipe_goes_from_a_base_model_to_a_registered_tuned_generator_and_continues_after_a_stop(tiny, tmp_path,
                                                                                                 monkeypatch):
    from typer.testing import CliRunner

    from chat.generators import HFGenerator, load_generator
    from finetune.cli import app
    from tests.test_chat import build_tiny_kb

    url, index = build_tiny_kb(tmp_path / "kb")
    work, out = tmp_path / "work", tmp_path / "tuned"
    args = ["recipe", "--base", str(tiny), "--db", url, "--index", index, "--work", str(work), "--out", str(out),
            "--minutes", "2", "--max-steps", "2", "--sample", "40", "--json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    record = json.loads(first.stdout)
    assert record["data"]["examples"] > 0 and record["training"]["steps"] == 2
    assert "[1/4] base model" in first.stderr and "[4/4] register" in first.stderr
    assert (out / "config.json").exists() and json.loads((out / "yiju-tuned.json").read_text())["base"] == str(tiny)
    again = CliRunner().invoke(app, args)  # every step already done: nothing is rebuilt or retrained
    assert again.exit_code == 0, again.output
    assert "(already there: " in again.stderr and "training: " in again.stderr and "(already there)" in again.stderr

    monkeypatch.setenv("YIJU_TUNED_MODEL", str(out))
    generator = load_generator("tuned")
    assert isinstance(generator, HFGenerator) and generator.name == "tuned"
    from chat.generators import GenerationRequest
    from retriever.hits import Passage

    request = GenerationRequest(question="阿莫西林胶囊能治什么病？", max_new_tokens=8, passages=[
        Passage("e1:适应症:demo:0", 1, "drug", "阿莫西林胶囊", "适应症", "阿莫西林胶囊 · 适应症：中耳炎", "demo", 1, "h")])
    assert isinstance("".join(generator.stream(request)), str)
    monkeypatch.setenv("YIJU_TUNED_MODEL", str(tmp_path / "none"))
    from chat.generators import GeneratorError

    with pytest.raises(GeneratorError, match="make model"):
        load_generator("tuned")


def tiny_gemma_lora(folder: Path, rslora: bool = False, vocab_size: int = 300) -> Path:
    """A 2-layer Gemma 3 text model saved in `folder`/base, and a LoRA adapter on it with random A and B."""
    from peft import LoraConfig, get_peft_model
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, num_key_value_heads=1, head_dim=16)
    Gemma3ForCausalLM(config).save_pretrained(folder / "base")
    model = Gemma3ForCausalLM.from_pretrained(str(folder / "base"))
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, use_rslora=rslora,
                                            target_modules=TARGET_MODULES["gemma3_text"]))
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_()
    peft.save_pretrained(folder / "adapter")
    return folder / "adapter"


def test_a_gemma_lora_adapter_is_written_as_a_llama_cpp_adapter_gguf(tmp_path):
    import gguf
    from safetensors.torch import load_file

    from finetune.model import export_lora_gguf

    adapter = tiny_gemma_lora(tmp_path)
    out = export_lora_gguf(adapter, tmp_path / "out" / "adapter.gguf")
    assert out.exists() and not list(out.parent.glob("*.partial"))
    reader = gguf.GGUFReader(str(out))
    field = lambda key: reader.fields[key].contents()  # noqa: E731
    assert field("general.architecture") == "gemma3" and field("general.type") == "adapter"
    assert field("adapter.type") == "lora" and field("adapter.lora.alpha") == 8.0
    tensors = {t.name: t for t in reader.tensors}
    # 7 projections x 2 layers, an A and a B each, under llama.cpp's names
    assert len(tensors) == 28 and {"blk.1.attn_q.weight.lora_a", "blk.0.ffn_down.weight.lora_b"} <= set(tensors)
    state = load_file(str(adapter / "adapter_model.safetensors"))
    a = state["base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"]  # (rank 4, hidden 32)
    b = state["base_model.model.model.layers.0.mlp.down_proj.lora_B.weight"]  # (hidden 32, rank 4)
    q_a, down_b = tensors["blk.1.attn_q.weight.lora_a"], tensors["blk.0.ffn_down.weight.lora_b"]
    assert list(q_a.shape) == [32, 4] and list(down_b.shape) == [4, 32]  # ggml order: the row length first
    assert np.array_equal(np.asarray(q_a.data).reshape(4, 32), a.numpy())
    assert np.array_equal(np.asarray(down_b.data).reshape(32, 4), b.numpy())
    # rsLoRA scales by alpha / sqrt(r), llama.cpp by alpha / r: the written alpha makes them agree
    rs = export_lora_gguf(tiny_gemma_lora(tmp_path / "rs", rslora=True), tmp_path / "rs.gguf")
    assert gguf.GGUFReader(str(rs)).fields["adapter.lora.alpha"].contents() == pytest.approx(16.0)


def test_lora_gguf_of_an_unsupported_model_is_one_line_naming_the_folder(lora_run, tmp_path):
    from typer.testing import CliRunner

    from finetune.cli import app

    _, run = lora_run
    result = CliRunner().invoke(app, ["lora-gguf", "--adapter", str(run / "final"), "--out", str(tmp_path / "a.gguf")])
    assert result.exit_code == 1 and str(run / "final") in result.output and "llama" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "a.gguf").exists()
    missing = CliRunner().invoke(app, ["lora-gguf", "--adapter", str(tmp_path), "--out", str(tmp_path / "a.gguf")])
    assert missing.exit_code == 1 and "adapter_model.safetensors" in missing.output


def test_the_recipe_registers_a_gemma_model_for_llama_cpp_too(tiny, tmp_path):
    """A base exported from a GGUF (`export.json`) gets the adapter as a llama.cpp adapter GGUF beside the merged
    model, and the record says which base GGUF it applies to; `--generator tuned` reads that record."""
    import shutil

    import gguf

    from finetune.recipe import run

    tok = load_tokenizer(tiny)
    adapter = tiny_gemma_lora(tmp_path, vocab_size=len(tok))
    base = tmp_path / "base"
    tok.save_pretrained(base)
    (base / "export.json").write_text(json.dumps({"gguf": str(tmp_path / "base.gguf")}), encoding="utf-8")
    work = tmp_path / "work"
    shutil.copytree(adapter, work / "run" / "final")  # training already done: only the register step runs
    (work / "run" / "final" / "hparams.json").write_text(json.dumps({"steps": 3}), encoding="utf-8")
    (work / "data").mkdir(parents=True)
    (work / "data" / "stats.json").write_text(json.dumps({"examples": 4}), encoding="utf-8")
    lines = []
    record = run(minutes=1, make_data=None, out=tmp_path / "tuned", base=base, work=work, say=lines.append)
    assert record["gguf"] == {"base": str((tmp_path / "base.gguf").resolve()), "adapter": "adapter.gguf"}
    assert json.loads((tmp_path / "tuned" / "yiju-tuned.json").read_text(encoding="utf-8"))["gguf"] == record["gguf"]
    written = gguf.GGUFReader(str(tmp_path / "tuned" / "adapter.gguf"))
    assert written.fields["general.type"].contents() == "adapter" and len(written.tensors) == 28
    assert any("llama.cpp adapter" in line for line in lines) and (tmp_path / "tuned" / "config.json").exists()
