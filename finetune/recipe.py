"""From nothing to a tuned model in the chat, in one command (`finetune recipe`, `make model`).

    [1/4] base model   the offline Gemma-3-270M GGUF package -> a plain HF checkpoint (or --base PATH)
    [2/4] data         retrieval-augmented examples from the KB and its index, plus real questions (--real)
    [3/4] training     LoRA within the time budget, resumed from the last checkpoint when interrupted
    [4/4] register     the adapter merged into the base and saved where `--generator tuned` looks, and
                       written as a llama.cpp LoRA GGUF beside it (llama.cpp applies it to the base GGUF)

Each step leaves its result in the work folder and is skipped when it is already there, so running the
recipe again after an interruption continues where it stopped. Every part is the project's own:
`finetune gemma-export`, `finetune data`, `finetune train`, `finetune merge`.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from finetune.config import (BudgetConfig, DataConfig, LoRAConfig, ModelConfig, OptimConfig, OutputConfig,
                             TrainConfig)

DEFAULT_BASE = Path("var/models/gemma-3-270m")
DEFAULT_WORK = Path("var/finetune/recipe")


def training_config(base: Path, data: Path, run_dir: Path, minutes: float, max_steps: int,
                    threads: int | None) -> TrainConfig:
    """The recipe's training: what the experiment in docs/experiments/gemma270m-lora.md learnt on this CPU
    (LoRA r 16, lr 1e-3, batch 4 x 2), within `minutes`, resumed from the run's last checkpoint."""
    return TrainConfig(ModelConfig(base), DataConfig(data),
                       lora=LoRAConfig(method="lora", r=16, alpha=32, dropout=0.05),
                       optim=OptimConfig(learning_rate=1e-3, warmup_steps=10, micro_batch_size=4, grad_accum=2),
                       budget=BudgetConfig(max_steps=max_steps, max_minutes=minutes),
                       output=OutputConfig(run_dir, save_interval=10, eval_interval=25, log_interval=5,
                                           resume=Path("auto")),
                       threads=threads)


def run(*, minutes: float, make_data: Callable[[Path], dict], out: Path, base: Path | None = None,
        work: Path = DEFAULT_WORK, max_steps: int = 150, threads: int | None = None,
        say: Callable[[str], None] = print) -> dict:
    """The four steps; `make_data(folder)` writes the training data there (the `finetune data` command).
    Returns the registration record written beside the tuned model (`yiju-tuned.json`)."""
    from finetune.model import export_gguf, export_lora_gguf, merge
    from finetune.train import report_json, train

    started = time.monotonic()
    base = Path(base) if base else DEFAULT_BASE
    if (base / "config.json").exists():
        say(f"[1/4] base model: {base} (already there)")
    else:
        say(f"[1/4] base model: exporting the offline Gemma-3-270M to {base} (about a minute)")
        export_gguf(None, base)

    data = work / "data"
    if (data / "stats.json").exists():
        stats = json.loads((data / "stats.json").read_text(encoding="utf-8"))
        say(f"[2/4] training data: {data} (already there: {stats['examples']:,} examples)")
    else:
        say(f"[2/4] training data: building {data} from the KB and its index")
        stats = make_data(data)

    run_dir = work / "run"
    if (run_dir / "final" / "adapter_config.json").exists():
        say(f"[3/4] training: {run_dir / 'final'} (already there)")
        trained = json.loads((run_dir / "final" / "hparams.json").read_text(encoding="utf-8"))
    else:
        resumed = any(run_dir.glob("step-*"))
        say(f"[3/4] training: LoRA for at most {minutes:g} minutes{' (resuming)' if resumed else ''}; progress "
            "below, then the adapter is merged")
        report = train(training_config(base, data, run_dir, minutes, max_steps, threads))
        trained = report_json(report)

    say(f"[4/4] register: merging the adapter into {out}")
    merge(base, run_dir / "final", out)
    gguf = None
    exported = base / "export.json"  # the base came from a GGUF: llama.cpp can run it with the adapter
    if exported.exists():
        base_gguf = Path(json.loads(exported.read_text(encoding="utf-8"))["gguf"])
        export_lora_gguf(run_dir / "final", Path(out) / "adapter.gguf")
        gguf = {"base": str(base_gguf.resolve()), "adapter": "adapter.gguf"}
        say(f"      and as a llama.cpp adapter: {Path(out) / 'adapter.gguf'} on {base_gguf}")
    record = {"base": str(base), "adapter": str(run_dir / "final"), "data": {k: stats.get(k) for k in
                                                                            ("examples", "splits", "counters")},
              "training": trained, "gguf": gguf, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "minutes": round((time.monotonic() - started) / 60, 1)}
    (Path(out) / "yiju-tuned.json").write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    return record
