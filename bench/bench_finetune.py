"""LoRA training throughput on a local model: tokens/s and peak memory for a few batch shapes.

    python bench/bench_finetune.py var/models/gemma-3-270m --shapes 4x256,2x512 --answer 48 --steps 3

The answer-only loss (`logits_to_keep`) is compared with full logits, so the saving on a large
vocabulary is measured rather than assumed.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--shapes", default="4x256", help="micro-batch x sequence length, comma-separated")
    ap.add_argument("--answer", type=int, default=48, help="answer tokens per example (labels)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--r", type=int, default=16)
    ap.add_argument("--targets", default=None, help="LoRA target modules (default: per architecture)")
    ap.add_argument("--full-logits", action="store_true", help="also time the loss over full logits")
    args = ap.parse_args()

    from peft import LoraConfig, TaskType, get_peft_model

    from finetune.model import IGNORE, answer_loss, load_model, target_modules_for

    base = load_model(args.model)
    net = get_peft_model(base, LoraConfig(task_type=TaskType.CAUSAL_LM, r=args.r, lora_alpha=2 * args.r,
                                          target_modules=target_modules_for(base, args.targets)))
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-4)
    vocab = base.config.vocab_size
    modes = ["answer-only"] + (["full"] if args.full_logits else [])
    for shape in args.shapes.split(","):
        b, n = (int(x) for x in shape.split("x"))
        ids = torch.randint(10, min(vocab, 30000), (b, n))
        labels = torch.full_like(ids, IGNORE)
        labels[:, -args.answer:] = ids[:, -args.answer:]
        batch = {"input_ids": ids, "labels": labels, "attention_mask": torch.ones_like(ids)}
        for mode in modes:
            times = []
            for step in range(args.steps + 1):
                t = time.perf_counter()
                if mode == "full":
                    out = net(input_ids=ids, attention_mask=batch["attention_mask"], labels=labels)
                    loss = out.loss
                else:
                    loss, k = answer_loss(net, batch)
                    loss = loss / k
                loss.backward()
                opt.step()
                opt.zero_grad()
                if step:  # the first step warms up allocators
                    times.append(time.perf_counter() - t)
            s = sum(times) / len(times)
            print(f"{shape} {mode}: {s:.2f} s/step, {b * n / s:.0f} tok/s, peak RSS "
                  f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
