"""Gemma-3-270M through transformers and through llama.cpp, on the same prompts: load seconds, time to
first token, tokens/s and whole-answer seconds, medians over a few real-style questions.

    python bench/bench_generators.py --db sqlite:////abs/var/kb.sqlite --index /abs/var/index [--threads 2] [--json]
    python bench/bench_generators.py --model tuned ...   # the model `make model` registered, both ways

Each question's top passages come from the index (retrieved once); both backends get the same prompt and
at most `--max-new-tokens`. `gemma-270m` (the base model) gets `base_prompt` and gemma-270m's greedy
settings, which differ where the libraries do: transformers' repetition penalty counts the prompt too and
it blocks repeated 3-grams; llama.cpp's penalty counts the last 64 generated tokens. `tuned` gets chat's
prompt in its chat template, plain greedy on both: transformers on the merged checkpoint, llama.cpp on the
base GGUF with the adapter GGUF. Every question runs once per backend, the backends alternating which goes
first. Tokens are counted with the GGUF's own vocabulary (llama.cpp's tokenizer) for both. Needs the
`models` and `llama` extras.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# How patients ask (colloquial, with context), about what the demo KB has.
QUESTIONS = [
    "孩子发烧38度5，能吃布洛芬吗？",
    "吃了阿莫西林以后有点拉肚子，正常吗？",
    "我血压有点高，平时生活上要注意什么？",
    "最近老是口渴、尿多，要查什么？",
    "感冒了鼻塞流鼻涕，吃什么药好？",
]
BACKENDS = ("transformers", "llama.cpp")


def requests_for(db: str | None, index: str, n: int, k: int, max_new_tokens: int) -> list:
    from chat.generators import GenerationRequest
    from retriever.search import Retriever

    retriever = Retriever.load(index_dir=index, db_url=db, on_stale="ignore")
    out = []
    for q in QUESTIONS[:n]:
        result = retriever.search(q, k=k)
        passages = [h.passage for h in result.hits[:k]]
        if passages:
            out.append(GenerationRequest(q, passages, list(result.intents), max_new_tokens=max_new_tokens))
    return out


def run_once(generator, request, count_tokens) -> dict:
    started = time.perf_counter()
    first, text = None, ""
    for piece in generator.stream(request):
        if first is None:
            first = time.perf_counter() - started
        text += piece
    total = time.perf_counter() - started
    tokens = count_tokens(text)
    first = first if first is not None else total
    return {"ttft_s": round(first, 3), "tokens": tokens, "answer_s": round(total, 2),
            "tokens_per_s": round(max(tokens - 1, 0) / max(total - first, 1e-6), 1), "text": text.strip()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=None, help="KB URL (env KB_DB_URL; default sqlite:///var/kb.sqlite)")
    ap.add_argument("--index", default=None, help="index folder (env YIJU_INDEX; default var/index)")
    ap.add_argument("--questions", type=int, default=len(QUESTIONS))
    ap.add_argument("--k", type=int, default=3, help="passages per prompt (gemma-270m's compact prompt shows 3)")
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for both backends (default: each's own)")
    ap.add_argument("--model", choices=("gemma-270m", "tuned"), default="gemma-270m",
                    help="the base Gemma-3-270M, or the tuned model `make model` registered")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from chat.generators import GeneratorError, gemma_270m, tuned_model
    from retriever.store import RetrieverError

    load = gemma_270m if args.model == "gemma-270m" else tuned_model
    try:
        requests = requests_for(args.db, args.index, args.questions, args.k, args.max_new_tokens)
        loaded, load_s = {}, {}
        for backend in BACKENDS:
            started = time.perf_counter()
            loaded[backend] = load(threads=args.threads, backend=backend)
            load_s[backend] = round(time.perf_counter() - started, 1)
    except (GeneratorError, RetrieverError, OSError, ValueError) as exc:
        sys.exit(f"bench_generators: error: {str(exc).splitlines()[0]}")
    llm = loaded["llama.cpp"].llm
    count_tokens = lambda text: len(llm.tokenize(text.encode("utf-8"), add_bos=False))  # noqa: E731

    runs = {b: [] for b in BACKENDS}
    for i, request in enumerate(requests):
        for backend in (BACKENDS if i % 2 == 0 else BACKENDS[::-1]):  # alternating which goes first
            runs[backend].append({"question": request.question, **run_once(loaded[backend], request, count_tokens)})

    report = {"model": args.model, "threads": args.threads or "each backend's default",
              "max_new_tokens": args.max_new_tokens, "questions": len(requests), "backends": {}}
    for backend in BACKENDS:
        rows = runs[backend]
        report["backends"][backend] = {
            "load_s": load_s[backend],
            **{f"{key}_median": round(statistics.median(r[key] for r in rows), 3) if rows else None
               for key in ("ttft_s", "tokens_per_s", "answer_s", "tokens")},
            "runs": rows,
        }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"{'Gemma-3-270M Q4_K_M' if args.model == 'gemma-270m' else 'tuned Gemma-3-270M'}, {len(requests)} questions, one run each, alternating; "
          f"max {args.max_new_tokens} new tokens; threads {report['threads']}")
    print(f"{'backend':<13} {'load s':>7} {'TTFT s':>7} {'tok/s':>6} {'answer s':>9} {'tokens':>6}  (medians)")
    for backend, b in report["backends"].items():
        print(f"{backend:<13} {b['load_s']:>7} {b['ttft_s_median']:>7} {b['tokens_per_s_median']:>6} "
              f"{b['answer_s_median']:>9} {b['tokens_median']:>6}")
    for backend in BACKENDS:
        for r in runs[backend]:
            print(f"  {backend:<12} {r['question']}: TTFT {r['ttft_s']} s, {r['tokens']} tokens, "
                  f"{r['tokens_per_s']} tok/s, {r['answer_s']} s | {r['text'][:60]!r}")


if __name__ == "__main__":
    main()
