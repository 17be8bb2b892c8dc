"""LoRA / P-tuning v2 (prefix tuning) / QLoRA on chat-messages JSONL, in one plain training loop.

`train(config)` is the whole of it; `config` is a `finetune.config.TrainConfig` (model, data, LoRA,
optimisation, budget, output), which the `finetune train` command builds from its options. The loop runs under
accelerate, so the same command scales to several GPUs with `accelerate launch -m finetune.cli train`
or `torchrun --nproc-per-node N -m finetune.cli train` (each process takes its share of the batches).
Every checkpoint folder holds the adapter, the tokenizer with its chat template, `train_config.json` (the
config, which `finetune train --config` reads back), `hparams.json` (every setting by its flat name, and what
the run found) and `trainer_state.pt` (optimizer, schedule, step) so that `--resume` continues where it stopped; the
output folder keeps `metrics.jsonl` and `loss.png`.
"""

from __future__ import annotations

import json
import logging
import math
import random
import resource
import sys
import time
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from chat.generators import stop_token_ids, turn_end
from finetune.config import CONFIG_FILE, TrainConfig
from finetune.data import read_jsonl
from finetune.progress import duration, time_left

# torch, transformers and peft are imported where they are used (importing this module is cheap).

log = logging.getLogger("finetune")
PLAN_AFTER_STEPS = 3  # steps measured before the run says how long all of it will take
LOG_EVERY_SECONDS = 30  # a progress line at least this often, whatever --log-interval says
PROMPT_STYLE = ("chat.generators.chat_messages via finetune.prompts.rag_messages (chat's system prompt, passages "
                "[n] clipped at `finetune data --passage-chars`, question -> answer citing [n]); rendered by the "
                "model's chat template")


@dataclass
class TrainReport:
    out_dir: str
    steps: int
    examples_seen: int
    tokens_seen: int
    answer_tokens_seen: int
    train_loss: float | None
    dev_loss: float | None
    seconds: float
    tokens_per_second: float
    peak_memory_mb: float
    dropped_too_long: int
    stopped_by: str
    trainable_params: int
    checkpoint: str
    model: object = field(default=None, repr=False, compare=False)  # the tuned peft model, in memory


def train(config: TrainConfig) -> TrainReport:
    """Tune an adapter on chat-messages examples as `config` says; loss only on the assistant's answer tokens.

    Each checkpoint keeps `config` beside it (`train_config.json`) and, in `hparams.json`, every setting under
    its flat name with what the run found (targets, steps, stop tokens).
    """
    model, data, lora, optim, budget, output = (config.model, config.data, config.lora, config.optim, config.budget,
                                                config.output)
    hparams = config.flat()
    import torch
    from accelerate import Accelerator
    from peft import LoraConfig, PrefixTuningConfig, TaskType, get_peft_model, prepare_model_for_kbit_training

    from finetune.model import answer_loss, collate, encode, load_model, load_tokenizer, target_modules_for

    if config.threads:
        torch.set_num_threads(config.threads)
    seed, grad_accum, micro_batch_size = config.seed, optim.grad_accum, optim.micro_batch_size
    torch.manual_seed(seed)
    accelerator = Accelerator(gradient_accumulation_steps=grad_accum)
    out_dir = Path(output.out_dir)
    say = partial(accelerator.print, file=sys.stderr)  # progress on stderr: stdout is for --json

    tokenizer = load_tokenizer(model.path, model.chat_template, model.trust_remote_code)
    train_rows, dev_rows = _load_data(Path(data.path), data.eval_examples)
    random.Random(seed).shuffle(train_rows)
    if data.max_examples:
        train_rows = train_rows[:data.max_examples]
    max_seq_len = data.max_seq_len
    encoded = [encode(tokenizer, r["messages"], max_seq_len) for r in train_rows]
    dropped = sum(e is None for e in encoded)
    encoded = [e for e in encoded if e is not None]
    dev = [e for e in (encode(tokenizer, r["messages"], max_seq_len) for r in dev_rows) if e is not None]
    if not encoded:
        raise ValueError(f"{data.path}: no training example fits in --max-seq-len {max_seq_len}")
    n_tok = [len(e["input_ids"]) for e in encoded]
    say(f"data: {len(encoded)} train examples ({dropped} dropped as longer than {max_seq_len} tokens), "
        f"{len(dev)} dev; mean {sum(n_tok) / len(n_tok):.0f} tokens, "
        f"answer {sum(sum(l != -100 for l in e['labels']) for e in encoded) / len(encoded):.0f}; "
        f"turn end {turn_end(tokenizer)!r}, stop ids {stop_token_ids(tokenizer)}")

    base = load_model(model.path, dtype=model.dtype, quantize=model.quantize, trust_remote_code=model.trust_remote_code)
    if model.quantize:
        base = prepare_model_for_kbit_training(base)
    if lora.method == "lora":
        targets = target_modules_for(base, lora.target_modules)
        peft_config = LoraConfig(task_type=TaskType.CAUSAL_LM, r=lora.r, lora_alpha=lora.alpha,
                                 lora_dropout=lora.dropout, target_modules=targets)
        hparams["target_modules"] = targets
    elif lora.method == "prefix":
        peft_config = PrefixTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=lora.num_virtual_tokens)
    else:
        raise ValueError(f"unknown --method {lora.method!r} (lora or prefix)")
    net = get_peft_model(base, peft_config)
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    total = sum(p.numel() for p in net.parameters())
    say(f"model: {model.path} ({getattr(base.config, 'model_type', '?')}), {lora.method}: {trainable:,} trainable of "
        f"{total:,} parameters ({100 * trainable / total:.2f}%)")

    batches_per_epoch = math.ceil(len(encoded) / micro_batch_size)
    steps_per_epoch = max(1, batches_per_epoch // (grad_accum * accelerator.num_processes))
    max_steps, max_minutes, epochs = budget.max_steps, budget.max_minutes, budget.epochs
    total_steps = max_steps or max(1, int(epochs * steps_per_epoch))
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=optim.learning_rate,
                                  weight_decay=optim.weight_decay)
    scheduler = _cosine(optimizer, optim.warmup_steps, total_steps)
    net, optimizer = accelerator.prepare(net, optimizer)

    step, history = 0, []
    if output.resume:
        ckpt = _latest_checkpoint(out_dir) if str(output.resume) == "auto" else Path(output.resume)
        if ckpt is None:
            say(f"resume: no checkpoint in {out_dir}; starting fresh")
        else:
            step, history = _load_checkpoint(ckpt, accelerator.unwrap_model(net), optimizer, scheduler)
            say(f"resume: from {ckpt} at step {step}")
    hparams.update(total_steps=total_steps, prompt_style=PROMPT_STYLE, turn_end=turn_end(tokenizer),
                   stop_token_ids=stop_token_ids(tokenizer), trainable_params=trainable,
                   train_examples=len(encoded), base_model=str(model.path))

    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = open(out_dir / "metrics.jsonl", "a", encoding="utf-8") if accelerator.is_main_process else None
    batches = _batches(encoded, micro_batch_size, seed, accelerator, skip=step * grad_accum)
    net.train()
    if not max_steps and not max_minutes:
        say(f"no --max-steps or --max-minutes: {total_steps:,} steps ({epochs:g} epoch(s) of {len(encoded):,} "
            f"examples, {micro_batch_size * grad_accum * accelerator.num_processes} a step); how long that takes is "
            f"said after {PLAN_AFTER_STEPS} steps")
    t0 = last_said = time.perf_counter()
    first_step = step
    tokens = answer_tokens = examples = 0
    loss_sum = loss_n = 0.0
    stopped_by = "steps"
    train_loss = dev_loss = None
    while step < total_steps:
        t_step = time.perf_counter()
        step_loss = step_tokens = 0.0
        for _ in range(grad_accum):
            batch = {k: v.to(accelerator.device) for k, v in collate(next(batches), tokenizer.pad_token_id).items()}
            with accelerator.accumulate(net):
                loss, n = answer_loss(net, batch)
                accelerator.backward(loss / max(n, 1) / grad_accum)
                optimizer.step()  # accelerate defers the real step to the last micro-batch
                optimizer.zero_grad()
            step_loss += loss.item()
            step_tokens += n
            tokens += int(batch["attention_mask"].sum())
            answer_tokens += n
            examples += batch["input_ids"].shape[0]
        scheduler.step()
        step += 1
        loss_sum += step_loss
        loss_n += step_tokens
        train_loss = step_loss / max(step_tokens, 1)
        row = {"step": step, "loss": round(train_loss, 4), "lr": scheduler.get_last_lr()[0],
               "seconds": round(time.perf_counter() - t0, 1), "step_seconds": round(time.perf_counter() - t_step, 2)}
        if output.eval_interval and step % output.eval_interval == 0 and dev:
            dev_loss = row["dev_loss"] = round(_dev_loss(net, dev, micro_batch_size, tokenizer.pad_token_id,
                                                         accelerator), 4)
        history.append(row)
        if metrics:
            metrics.write(json.dumps(row) + "\n")
            metrics.flush()
        elapsed = time.perf_counter() - t0
        if step - first_step == PLAN_AFTER_STEPS or (step == total_steps and step - first_step < PLAN_AFTER_STEPS):
            say(plan(step - first_step, elapsed, total_steps - step, max_steps, max_minutes))
        if step % output.log_interval == 0 or step == 1 or time.perf_counter() - last_said >= LOG_EVERY_SECONDS:
            left = time_left(step - first_step, total_steps - first_step, elapsed)
            if max_minutes:
                left = min(left, max(0.0, max_minutes * 60 - elapsed))
            say(f"step {step}/{total_steps} loss {loss_sum / max(loss_n, 1):.4f}"
                + (f" dev {row['dev_loss']:.4f}" if "dev_loss" in row else "")
                + f" lr {row['lr']:.2e} | {tokens / elapsed:.0f} tok/s, {examples / elapsed:.2f} ex/s, "
                  f"{elapsed / (step - first_step):.1f} s/step | about {duration(left)} left | "
                  f"peak mem {_peak_mb():.0f} MB", file=sys.stderr)
            loss_sum = loss_n = 0.0
            last_said = time.perf_counter()
        if output.save_interval and step % output.save_interval == 0 and step < total_steps:
            _save(accelerator, net, tokenizer, optimizer, scheduler, out_dir / f"step-{step:06d}", step, config, hparams,
                  history)
        if max_minutes and time.perf_counter() - t0 > max_minutes * 60:
            stopped_by = "time"
            say(f"stopping at step {step}: --max-minutes {max_minutes} reached", file=sys.stderr)
            break

    if dev:
        dev_loss = round(_dev_loss(net, dev, micro_batch_size, tokenizer.pad_token_id, accelerator), 4)
        if history:
            history[-1]["dev_loss"] = dev_loss
    final = out_dir / "final"
    _save(accelerator, net, tokenizer, optimizer, scheduler, final, step, config, hparams, history)
    elapsed = time.perf_counter() - t0
    if metrics:
        metrics.close()
        plot_loss(history, out_dir / "loss.png")
    return TrainReport(str(out_dir), step, examples, tokens, answer_tokens, train_loss, dev_loss, round(elapsed, 1),
                       round(tokens / max(elapsed, 1e-9), 1), round(_peak_mb(), 1), dropped, stopped_by, trainable,
                       str(final), accelerator.unwrap_model(net))


def plan(measured: int, seconds: float, steps_left: int, max_steps: int | None, max_minutes: float | None) -> str:
    """What the rest of the run will take at the pace of its first `measured` steps, and how to bound it when
    nothing does (a CPU run of all epochs took days: issue 22)."""
    per_step = seconds / max(measured, 1)
    line = f"{per_step:.1f} s/step: {steps_left:,} steps left take about {duration(steps_left * per_step)}"
    if max_minutes and steps_left * per_step > max_minutes * 60 - seconds:
        return line + f"; --max-minutes {max_minutes:g} stops it after about {int(max_minutes * 60 / per_step):,} steps"
    if not max_steps and not max_minutes and steps_left * per_step > 15 * 60:
        hour = max(1, int(3600 / per_step))
        return line + (f"; to stop sooner pass --max-minutes M (e.g. --max-minutes 60) or --max-steps N "
                       f"(--max-steps {hour:,} is about an hour); checkpoints every --save-interval steps, "
                       f"--resume auto continues")
    return line


def _load_data(data: Path, eval_examples: int) -> tuple[list[dict], list[dict]]:
    if data.is_dir():
        train_file, dev_file = data / "train.jsonl", data / "dev.jsonl"
        if not train_file.exists():
            raise FileNotFoundError(f"{data}: no train.jsonl (write one with `finetune data` or `finetune convert`)")
        dev_rows = read_jsonl(dev_file)[:eval_examples] if dev_file.exists() else []
        return read_jsonl(train_file), dev_rows
    if not data.exists():
        raise FileNotFoundError(f"{data}: no such file")
    return read_jsonl(data), []


def _cosine(optimizer, warmup: int, total: int):
    """Linear warmup, then cosine decay to 10% of the peak learning rate."""
    warmup = min(warmup, max(total - 1, 0))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    import torch

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _batches(encoded: list[dict], size: int, seed: int, accelerator, skip: int = 0):
    """Endless micro-batches: each epoch shuffled, then grouped by length to save padding; this process's share."""
    epoch = 0
    produced = 0
    while True:
        rng = random.Random(seed + epoch)
        order = list(range(len(encoded)))
        rng.shuffle(order)
        chunks = [order[i:i + size * 64] for i in range(0, len(order), size * 64)]
        batches = []
        for chunk in chunks:
            chunk.sort(key=lambda i: len(encoded[i]["input_ids"]))
            batches += [chunk[i:i + size] for i in range(0, len(chunk), size)]
        rng.shuffle(batches)
        for j, b in enumerate(batches):
            if j % accelerator.num_processes != accelerator.process_index:
                continue
            produced += 1
            if produced <= skip:
                continue
            yield [encoded[i] for i in b]
        epoch += 1


def _dev_loss(net, dev: list[dict], size: int, pad_id: int, accelerator) -> float:
    import torch

    from finetune.model import answer_loss, collate

    net.eval()
    total = n = 0.0
    for i in range(0, len(dev), size):
        batch = {k: v.to(accelerator.device) for k, v in collate(dev[i:i + size], pad_id).items()}
        with torch.no_grad():
            loss, k = answer_loss(net, batch)
        total += loss.item()
        n += k
    net.train()
    return total / max(n, 1)


def _peak_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _save(accelerator, net, tokenizer, optimizer, scheduler, folder: Path, step: int, config: TrainConfig,
          hparams: dict, history: list[dict]) -> None:
    import torch

    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return
    folder.mkdir(parents=True, exist_ok=True)
    model = accelerator.unwrap_model(net)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    config.save(folder / CONFIG_FILE)
    (folder / "hparams.json").write_text(json.dumps({**hparams, "step": step}, ensure_ascii=False, indent=2,
                                                    default=str), encoding="utf-8")
    torch.save({"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "history": history, "torch_rng": torch.get_rng_state()}, folder / "trainer_state.pt")
    plot_loss(history, folder / "loss.png")


def _latest_checkpoint(out_dir: Path) -> Path | None:
    steps = sorted(out_dir.glob("step-*/trainer_state.pt"))
    return steps[-1].parent if steps else None


def _load_checkpoint(folder: Path, model, optimizer, scheduler) -> tuple[int, list[dict]]:
    import torch
    from peft import set_peft_model_state_dict
    from peft.utils import load_peft_weights

    if not (folder / "trainer_state.pt").exists():
        raise FileNotFoundError(f"{folder}: no trainer_state.pt (resume from a step-NNNNNN folder of `finetune train`)")
    set_peft_model_state_dict(model, load_peft_weights(str(folder)))
    state = torch.load(folder / "trainer_state.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    return state["step"], state["history"]


def plot_loss(history: list[dict], path: Path) -> None:
    """Training loss per step (with a moving average) and dev loss, as a PNG."""
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    loss = [h["loss"] for h in history]
    w = max(1, len(loss) // 20)
    smooth = [sum(loss[max(0, i - w + 1): i + 1]) / len(loss[max(0, i - w + 1): i + 1]) for i in range(len(loss))]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, loss, alpha=0.3, label="train loss")
    ax.plot(steps, smooth, label=f"train loss ({w}-step mean)")
    dev = [(h["step"], h["dev_loss"]) for h in history if "dev_loss" in h]
    if dev:
        ax.plot(*zip(*dev), "o-", label="dev loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy per answer token")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report_json(report: TrainReport) -> dict:
    return {f.name: getattr(report, f.name) for f in fields(report) if f.name != "model"}
