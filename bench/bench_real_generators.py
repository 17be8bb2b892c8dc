"""Generators side by side on real patient questions: `chat eval --real`'s measures for each generator on the same
sample, through the same pipeline (retrieval, support check, selection, citation verification), in one run.

    python bench/bench_real_generators.py --real ../shared/data/toyhom-im-sample/内科5000-6000.csv --n 150 \\
        -g extractive -g "base (llama.cpp)=gemma-270m" -g "tuned (transformers)=hf:var/models/tuned" \\
        -g "tuned (llama.cpp)=tuned" --out docs/experiments/tuned-real [--json]

Per generator: answered / refused / emergency, the share of the model's sentences that citation verification
kept (survival), answers where none survived and the KB was quoted instead, answers the model declined (its
refusal), answers that cite an entity the question names, overlap with the doctor's reply, latency p50/p95 of
every question and of the answers a model wrote (refusals and emergencies take milliseconds and would hide
it), and why sentences were removed. The questions are `chat eval --real`'s sample (`--n`, `--seed`): the
first N of its 500 are never training data (`finetune data --real` leaves them out). Generators run one
after another; dose questions are quoted from the label whatever the generator, as in chat.
`--out` gets results.json, rows.jsonl (every answer), results.md (the table) and a chart.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def parse(spec: str) -> tuple[str, str]:
    label, sep, rest = spec.partition("=")
    return (label, rest) if sep else (spec, spec)


def generated_latency(rows: list[dict]) -> dict:
    lat = [r["latency_ms"] / 1000 for r in rows if r.get("generated")]
    if not lat:
        return {"generated_latency_s_p50": None, "generated_latency_s_p95": None}
    return {"generated_latency_s_p50": round(float(np.percentile(lat, 50)), 2),
            "generated_latency_s_p95": round(float(np.percentile(lat, 95)), 2)}


COLUMNS = [("answered", "answered_rate", "%"), ("refused", "refused_rate", "%"),
           ("sentences kept", "survival_rate", "%"), ("of sentences", "generated_sentences", "n"),
           ("KB quoted instead", "quoted_instead_rate", "%"), ("model declined", "declined_rate", "%"),
           ("stopped repeating", "repeated_rate", "%"),
           ("cites asked entity", "on_topic_citation_rate", "%"), ("doctor overlap", "reference_overlap_rate", "%"),
           ("p50 s (written)", "generated_latency_s_p50", "s"), ("p95 s (written)", "generated_latency_s_p95", "s"),
           ("p50 s (all)", "latency_s_p50", "s")]


def cell(value, kind: str) -> str:
    if value is None:
        return "–"
    return f"{value:.1%}" if kind == "%" else (f"{value:,}" if kind == "n" else f"{value:g}")


def markdown(results: dict) -> str:
    lines = ["| generator | " + " | ".join(c[0] for c in COLUMNS) + " |",
             "| --- |" + " ---: |" * len(COLUMNS)]
    for label, r in results.items():
        lines.append(f"| {label} | " + " | ".join(cell(r.get(key), kind) for _, key, kind in COLUMNS) + " |")
    return "\n".join(lines)


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(results)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    shares = [("answered", "answered_rate"), ("sentences kept", "survival_rate"),
              ("KB quoted instead", "quoted_instead_rate")]
    width = 0.8 / len(shares)
    for i, (name, key) in enumerate(shares):
        left.bar(np.arange(len(labels)) + i * width, [results[g].get(key) or 0 for g in labels], width, label=name)
    left.set_xticks(np.arange(len(labels)) + width, labels, rotation=15, fontsize=8)
    left.set_ylim(0, 1)
    left.axhline(0.8, color="grey", linestyle=":", linewidth=1)
    left.set_title("real questions: shares")
    left.legend(fontsize=8)
    right.bar(labels, [results[g].get("generated_latency_s_p50") or 0 for g in labels], label="p50")
    right.bar(labels, [results[g].get("generated_latency_s_p95") or 0 for g in labels], alpha=0.3, label="p95")
    right.set_title("seconds per written answer")
    right.tick_params(axis="x", rotation=15, labelsize=8)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", required=True, type=Path, help="Toyhom CSV or JSONL of real questions")
    ap.add_argument("-g", "--generator", action="append", required=True, help="[LABEL=]SPEC, as chat's --generator")
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--db", default=None)
    ap.add_argument("--index", default="var/index")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from chat.generators import GeneratorError, load_generator
    from chat.pipeline import Pipeline
    from chat.real_questions import RealQuestionsError, evaluate_real, read_questions, sample
    from retriever.store import RetrieverError

    try:
        questions = sample(read_questions(args.real), args.n, args.seed)
        pipeline = Pipeline.load(args.db, args.index, "extractive", args.k, log_answers=False, on_stale="ignore")
    except (RealQuestionsError, RetrieverError, OSError, ValueError) as exc:
        sys.exit(f"bench_real_generators: error: {str(exc).splitlines()[0]}")
    results, all_rows = {}, []
    for label, spec in map(parse, args.generator):
        try:
            started = time.perf_counter()
            pipeline.generator = load_generator(spec)
            load_s = time.perf_counter() - started
        except GeneratorError as exc:
            sys.exit(f"bench_real_generators: {label}: {exc}")
        started = time.perf_counter()
        report, rows = evaluate_real(pipeline, questions)
        report |= {"spec": spec, "load_s": round(load_s, 1), "minutes": round((time.perf_counter() - started) / 60, 1),
                   "latency_s_p50": round(report["latency_ms_p50"] / 1000, 3), **generated_latency(rows)}
        results[label] = report
        all_rows += [{"generator": label, **r} for r in rows]
        sys.stderr.write(f"{label}: {report['minutes']} min\n")
    doc = {"source": str(args.real), "n": len(questions), "seed": args.seed, "k": args.k,
           "kb_revision": pipeline.kb_revision, "results": results}
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
        (args.out / "rows.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in all_rows),
                                             encoding="utf-8")
        (args.out / "results.md").write_text(markdown(results) + "\n", encoding="utf-8")
        chart(results, args.out / "real-questions.png")
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    print(f"{len(questions)} real questions ({args.real}, seed {args.seed}), KB revision {pipeline.kb_revision}")
    print(markdown(results))
    for label, r in results.items():
        if r["removed_because"]:
            print(f"{label}: removed because " + "; ".join(f"{k} ×{v}" for k, v in r["removed_because"].items()))


if __name__ == "__main__":
    main()
