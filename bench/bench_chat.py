"""Latency of `chat ask`: the extractive pipeline warm (p50/p95, in process), one cold CLI run, and with
--gemma the Gemma-3-270M generator's load time, time to first token and tokens per second (llama.cpp when
llama-cpp-python is installed, else transformers; bench/bench_generators.py compares the two).

    python bench/bench_chat.py --db sqlite:///var/kb.sqlite --index var/index            # extractive
    python bench/bench_chat.py --db ... --index ... --gemma --gemma-questions 3         # + gemma-270m
    python bench/bench_chat.py ... --json                                              # one JSON document

"Warm" means the pipeline is loaded (index, encoder, KB symptom lists) and has answered once; every
question then goes through the whole pipeline, answer log included, as `chat ask` does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from kb.settings import DEFAULT_INDEX_DIR


os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTIONS = [
    "阿莫西林有哪些不良反应？", "布洛芬缓释胶囊怎么吃？", "高血压挂什么科？", "流行性感冒有哪些症状？",
    "二甲双胍的禁忌是什么？", "我对青霉素过敏，能吃阿莫西林吗？", "瑞德西韦的副作用是什么？", "今天天气怎么样？",
    "我胸口痛，一直出冷汗", "血常规能查出什么？", "它孕妇能用吗？", "我发烧咳嗽两天了",
]


def bench_extractive(args) -> dict:
    from chat.pipeline import Pipeline

    t = time.perf_counter()
    pipeline = Pipeline.load(args.db, args.index, "extractive", k=args.k, log_answers=not args.no_log)
    load_s = time.perf_counter() - t
    questions = list(QUESTIONS)
    try:
        from retriever.evaluation import templated_questions

        questions += [q.question for q in templated_questions(pipeline.retriever, n=args.templated, seed=1)]
    except Exception as exc:  # the fixed questions are enough to measure with
        print(f"(no templated questions: {exc})", file=sys.stderr)
    pipeline.answer(questions[0])  # warm: encoder, caches
    latencies, stages = [], {}
    for _ in range(args.repeat):
        for q in questions:
            t = time.perf_counter()
            answer = pipeline.answer(q)
            latencies.append((time.perf_counter() - t) * 1000)
            for k, v in answer.timings_ms.items():
                stages.setdefault(k, []).append(v)
    return {
        "questions": len(questions) * args.repeat, "load_s": round(load_s, 2),
        "p50_ms": round(statistics.median(latencies), 1), "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "max_ms": round(max(latencies), 1),
        "stage_p50_ms": {k: round(statistics.median(v), 2) for k, v in stages.items()},
        "target_p95_ms": 300, "ok": float(np.percentile(latencies, 95)) <= 300,
    }


def bench_cli(args) -> dict:
    """One `chat ask` process, start to finish: what a shell user waits for (imports and index load included)."""
    cmd = [sys.executable, "-m", "chat.cli", "ask", QUESTIONS[0], "--json", "--no-log", "--index", args.index]
    if args.db:
        cmd += ["--db", args.db]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    return {"cold_cli_s": round(time.perf_counter() - t, 2), "exit_code": done.returncode}


def bench_gemma(args) -> dict:
    from bench_generators import run_once  # the one timing of a streamed answer (this script's folder)
    from chat.generators import GenerationRequest, gemma_270m
    from chat.pipeline import Delta, Pipeline

    t = time.perf_counter()
    generator = gemma_270m()
    load_s = time.perf_counter() - t

    def count_tokens(text: str) -> int:  # llama.cpp's vocabulary or transformers' tokenizer
        if hasattr(generator, "llm"):
            return len(generator.llm.tokenize(text.encode("utf-8"), add_bos=False))
        return len(generator.tokenizer(text, add_special_tokens=False)["input_ids"])

    pipeline = Pipeline.load(args.db, args.index, generator, k=args.k, log_answers=False)
    runs = []
    for q in QUESTIONS[: args.gemma_questions]:
        result = pipeline.retriever.search(q, k=3)
        passages = [h.passage for h in result.hits[:3]]
        if not passages:
            continue
        generated = run_once(generator, GenerationRequest(q, passages, result.intents), count_tokens)
        t = time.perf_counter()
        first_verified = None
        answer = None
        for event in pipeline.stream(q):
            if isinstance(event, Delta) and first_verified is None:
                first_verified = time.perf_counter() - t
            answer = event
        runs.append({"question": q, "ttft_s": generated["ttft_s"], "tokens": generated["tokens"],
                     "tokens_per_s": generated["tokens_per_s"], "generate_s": generated["answer_s"],
                     "pipeline_s": round(time.perf_counter() - t, 2),
                     "pipeline_first_delta_s": round(first_verified or 0, 2),
                     "claims_removed": len(answer.removed_claims), "refused": answer.refused,
                     "label_quoted_for_dose": any(w.startswith("dosing question") for w in answer.warnings),
                     "kb_quoted_instead": any("no generated sentence" in w for w in answer.warnings)})
    return {"backend": generator.backend, "load_s": round(load_s, 1), "runs": runs,
            "ttft_s_median": statistics.median(r["ttft_s"] for r in runs) if runs else None,
            "tokens_per_s_median": statistics.median(r["tokens_per_s"] for r in runs) if runs else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=None, help="KB URL (env KB_DB_URL; default sqlite:///var/kb.sqlite)")
    ap.add_argument("--index", default=DEFAULT_INDEX_DIR)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--templated", type=int, default=88, help="templated questions added to the fixed ones")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-log", action="store_true", help="do not write answer-log rows while benchmarking")
    ap.add_argument("--no-cli", action="store_true", help="skip the cold `chat ask` process run")
    ap.add_argument("--gemma", action="store_true", help="also benchmark the gemma-270m generator (slow)")
    ap.add_argument("--gemma-questions", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    report = {"extractive": bench_extractive(args)}
    if not args.no_cli:
        report["cli"] = bench_cli(args)
    if args.gemma:
        report["gemma-270m"] = bench_gemma(args)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    e = report["extractive"]
    print(f"extractive, warm, {e['questions']} questions: p50 {e['p50_ms']} ms, p95 {e['p95_ms']} ms "
          f"(target <= 300), max {e['max_ms']} ms; pipeline load {e['load_s']} s")
    print("  stage p50 (ms): " + ", ".join(f"{k} {v}" for k, v in e["stage_p50_ms"].items()))
    if "cli" in report:
        print(f"cold `chat ask` process: {report['cli']['cold_cli_s']} s (exit {report['cli']['exit_code']})")
    if "gemma-270m" in report:
        g = report["gemma-270m"]
        print(f"gemma-270m ({g['backend']}): load {g['load_s']} s; time to first token (median) {g['ttft_s_median']} s; "
              f"{g['tokens_per_s_median']} tokens/s")
        for r in g["runs"]:
            print(f"  {r['question']}: TTFT {r['ttft_s']} s, {r['tokens']} tokens at {r['tokens_per_s']} tok/s; "
                  f"pipeline {r['pipeline_s']} s, {r['claims_removed']} claims removed"
                  + (", KB quoted instead" if r["kb_quoted_instead"] else "")
                  + (", dose: label quoted" if r["label_quoted_for_dose"] else ""))


if __name__ == "__main__":
    main()
