"""One typed training configuration: what `finetune.train.train` takes, the `finetune train` command builds,
`finetune recipe` fills in, and every checkpoint keeps beside it (`train_config.json`).

    config = TrainConfig(ModelConfig(Path("var/models/gemma-3-270m")), DataConfig(Path("var/finetune/data")),
                         lora=LoRAConfig(r=8), budget=BudgetConfig(max_minutes=30))
    config.save(folder / CONFIG_FILE); TrainConfig.load(folder / CONFIG_FILE) == config

Grouped as litgpt's `finetune/lora.py` groups its arguments (model, data, LoRA, optimisation, budget, and
where the run writes). Each field's `option` is its historical flat name: the `finetune train` option
(`--lora-r`) and the key in `hparams.json`. No CLI framework and no torch here.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

CONFIG_FILE = "train_config.json"


def _flat(name: str):
    """A field's flat name where it is not the field's own."""
    return {"option": name}


@dataclass
class ModelConfig:
    path: Path = field(metadata=_flat("model"))  # a local transformers causal LM folder, never a hub id
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    quantize: Literal["nf4"] | None = None  # QLoRA: the base in 4 bits (CUDA and bitsandbytes)
    trust_remote_code: bool = False
    chat_template: str | None = None  # a Jinja template (file or string) for a tokenizer that has none


@dataclass
class DataConfig:
    path: Path = field(metadata=_flat("data"))  # a JSONL file, or a folder with train.jsonl (and dev.jsonl)
    max_seq_len: int = 512  # longer examples are dropped (and counted), never cut
    max_examples: int | None = None  # only the first N training examples, after a seeded shuffle
    eval_examples: int = 32  # dev examples in the dev loss


@dataclass
class LoRAConfig:
    method: Literal["lora", "prefix"] = "lora"  # prefix: P-tuning v2
    r: int = field(default=16, metadata=_flat("lora_r"))
    alpha: int = field(default=32, metadata=_flat("lora_alpha"))
    dropout: float = field(default=0.05, metadata=_flat("lora_dropout"))
    target_modules: str | None = None  # comma list or all-linear; None: per architecture
    num_virtual_tokens: int = 16  # prefix length for method "prefix"


@dataclass
class OptimConfig:
    learning_rate: float = 2e-4  # AdamW peak after warmup; cosine decay to 10% of it
    weight_decay: float = 0.0
    warmup_steps: int = 10
    micro_batch_size: int = 4  # examples per forward pass (per process)
    grad_accum: int = 4  # micro-batches per optimizer step


@dataclass
class BudgetConfig:
    epochs: float = 1.0  # passes over the training data when max_steps is not given
    max_steps: int | None = None  # optimizer steps; the length of the cosine schedule
    max_minutes: float | None = None  # stop (and save) after this much wall time


@dataclass
class OutputConfig:
    out_dir: Path = Path("var/finetune/run")  # step-N/ checkpoints, final/, metrics.jsonl, loss.png
    save_interval: int = 100  # a resumable checkpoint every N optimizer steps
    eval_interval: int = 50  # dev loss every N optimizer steps (0: only at the end)
    log_interval: int = 5  # a progress line every N optimizer steps
    resume: Path | None = None  # a step-NNNNNN folder, or "auto" for the latest in out_dir


@dataclass
class TrainConfig:
    model: ModelConfig
    data: DataConfig
    lora: LoRAConfig = field(default_factory=LoRAConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    threads: int | None = None  # torch CPU threads (None: torch's choice)
    seed: int = 1337  # data order, dropout and initialisation

    def to_dict(self) -> dict:
        """Nested, JSON-ready (paths as strings): what `save` writes and `from_dict` reads."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    def flat(self) -> dict:
        """Every setting under its flat name (`--lora-r` is `lora_r`), as `hparams.json` records them."""
        return dict(_leaves(self))

    def with_options(self, **options) -> TrainConfig:
        """A copy with the settings named by their flat names replaced (`with_options(lora_r=8)`)."""
        left = dict(options)

        def replaced(obj):
            changes = {}
            for f in dataclasses.fields(obj):
                value = getattr(obj, f.name)
                if dataclasses.is_dataclass(value):
                    changes[f.name] = replaced(value)
                elif f.metadata.get("option", f.name) in left:
                    changes[f.name] = left.pop(f.metadata.get("option", f.name))
            return dataclasses.replace(obj, **changes)

        config = replaced(self)
        if left:
            raise ValueError(f"unknown training setting(s): {', '.join(sorted(left))}")
        return config

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, doc: dict) -> TrainConfig:
        return _build(cls, doc, "")

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        """A saved config (`train_config.json`); a wrong key or value is one ValueError naming it."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a training config ({exc})") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: not a training config (a JSON object of {', '.join(_field_names(cls))})")
        try:
            return cls.from_dict(doc)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None


def _leaves(obj):
    """(flat name, value) of every setting, group by group in field order; paths as strings."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaves(value)
        else:
            yield f.metadata.get("option", f.name), str(value) if isinstance(value, Path) else value


def _field_names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _build(cls, doc: dict, where: str):
    """`cls` from a nested dict, with paths made Paths and each group built in turn."""
    hints = typing.get_type_hints(cls)
    unknown = set(doc) - set(_field_names(cls))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(where + k for k in sorted(unknown))}")
    values = {}
    for name, value in doc.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ValueError(f"{where}{name} must be an object of {', '.join(_field_names(hint))}")
            value = _build(hint, value, f"{where}{name}.")
        elif value is not None and Path in (typing.get_args(hint) or (hint,)):
            value = Path(value)
        values[name] = value
    try:
        return cls(**values)
    except TypeError as exc:  # a missing required key
        raise ValueError(f"{where or 'the config'}: {exc}") from None
