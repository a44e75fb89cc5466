"""Quality per minute: best validation loss within a wall-clock budget, seqgen against a plain loop.

Both arms train a 2×512 character LSTM on the same split (first 90 % train, last 10 %
validation: ../shared/BENCHMARKS.md §1) for the same number of training minutes (evaluation
excluded from both). The plain arm is the textbook loop: Embedding → nn.LSTM → Linear, AdamW at
a constant 2e-3, dropout 0.2, clipping at 1.0, truncated BPTT over 32 streams of 128 characters.
The seqgen arm is `seqgen.tasks.language_model.train` with its default recipe (every TrainConfig default: batch,
window, learning rate, warm-up, schedule, dropout, and --precision auto: bf16 on CPUs with native bf16)
at the same 2×512 size and `max_time` set to the budget; the seqgen_fp32 arm is the same with
--precision fp32 and the seqgen_bf16 arm with --precision bf16, so what bf16 gains or loses at the
default step is measured in the same run.
Each arm's best state is finally scored on the whole validation text with batch size 1, state
carried through it. Writes JSON.

    python scripts/bench_quality.py --minutes 15 --parallel --clock cpu --output benchmarks/quality-15.json
    python scripts/bench_quality.py --minutes 15 --parallel --clock cpu --arms plain,seqgen   # two arms only
    python scripts/bench_quality.py --minutes 15 --parallel --clock cpu --arms seqgen_fp32,seqgen_bf16 \
        --output benchmarks/quality-15-bf16.json   # bf16 against fp32 at the default step, loss per CPU-minute
    python scripts/bench_quality.py --minutes 5 --device cuda --output benchmarks/quality-gpu-5.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from seqgen.data.corpora import load_corpus
from seqgen.data.text import batchify, split_text, window, windows_per_pass
from seqgen.device import cpu_has_native_bf16, cpu_name, resolve_precision
from seqgen.models import ModelConfig
from seqgen.tasks.language_model import TrainConfig
from seqgen.tasks.language_model.evaluate import evaluate_loss
from seqgen.tokenizers import fit_tokenizer

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"
EVAL_EVERY = 200  # plain-arm steps; the seqgen arm evaluates after as many training tokens


class PlainLSTM(nn.Module):
    def __init__(self, vocab_size: int, embedding_dim=128, hidden_size=512, num_layers=2, dropout=0.2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers, dropout=dropout, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        x, state = self.lstm(self.embedding(tokens), state)
        return self.head(self.drop(x)), state


def load_split(corpus: str):
    _, text = load_corpus(corpus)
    tokenizer = fit_tokenizer("char", text, 0)
    parts = split_text(text, 0.1, 0.0)
    return tokenizer, tokenizer.encode(parts["train"]), tokenizer.encode(parts["val"])


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def plain_arm(corpus: str, minutes: float, seed: int, device: str) -> dict:
    tokenizer, train_ids, val_ids = load_split(corpus)
    torch.manual_seed(seed)
    model = PlainLSTM(tokenizer.vocab_size).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    streams = batchify(torch.from_numpy(train_ids.astype(np.int64)).to(device), 32)
    count = windows_per_pass(streams.size(1), 128)
    step, elapsed, state, best, best_state, history = 0, 0.0, None, math.inf, None, []
    while elapsed < minutes * 60:
        tick = time.perf_counter()
        inputs, targets = window(streams, step % count, 128)
        if step % count == 0:
            state = None
        if state is not None:
            state = tuple(s.detach() for s in state)
        logits, state = model(inputs, state)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        sync(device)
        elapsed += time.perf_counter() - tick
        if step % EVAL_EVERY == 0 or elapsed >= minutes * 60:
            val = evaluate_loss(model, val_ids, 16, 128, device)
            model.train()
            history.append({"step": step, "minutes": round(elapsed / 60, 2), "val_loss": val})
            if val < best:
                best, best_state = val, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return {"steps": step, "tokens": step * 32 * 128, "best_val_loss_16_streams": best, "history": history,
            "best_val_loss": evaluate_loss(model, val_ids, 1, 128, device)}


def seqgen_arm(corpus: str, minutes: float, seed: int, device: str, precision: str = "auto") -> dict:
    from seqgen.tasks.language_model import LanguageModel
    from seqgen.tasks.language_model.train import train

    tokenizer, _, val_ids = load_split(corpus)
    with tempfile.TemporaryDirectory() as out:
        # seqgen's default recipe at the plain arm's size; only the corpus, split, budget and device are set
        model_config = ModelConfig(embedding_dim=128, hidden_size=512, num_layers=2)
        defaults = TrainConfig()
        every = max(1, EVAL_EVERY * 32 * 128 // (defaults.batch_size * defaults.bptt))  # same tokens between evaluations
        config = TrainConfig(corpus=corpus, val_fraction=0.1, test_fraction=0.0, max_time=minutes, seed=seed,
                             eval_interval=every, output_dir=out, name="bench", device=device, precision=precision)
        result = train(model_config, config, progress=False)
        model = LanguageModel.load(result.best_path, "cpu").model
    history = [{"step": h["step"], "minutes": round(h["elapsed"] / 60, 2), "val_loss": h["val_loss"]}
               for h in result.history if h.get("val_loss") is not None]
    used = resolve_precision(precision, torch.device(device))
    return {"steps": result.step, "tokens": result.step * config.batch_size * config.bptt, "precision": used,
            "best_val_loss_16_streams": result.best_val_loss, "history": history,
            "recipe": {**dataclasses.asdict(model_config), **dataclasses.asdict(config), "corpus": os.path.relpath(corpus)},
            "best_val_loss": evaluate_loss(model.to(device), val_ids, 1, config.bptt, device)}


ARM_PRECISION = {"seqgen": "auto", "seqgen_fp32": "fp32", "seqgen_bf16": "bf16"}
ARMS = ("plain", *ARM_PRECISION)


def run_arm(args):
    name, corpus, minutes, seed, threads, clock, device = args
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # seqgen's thread policy keeps to it too
    if clock == "cpu":
        # Budget both arms by the CPU time their process received, so other work on a shared machine
        # cannot favour one arm; the seqgen arm's clock (time.perf_counter) is the same clock.
        time.perf_counter = time.process_time
    started = time.perf_counter()
    try:
        if name == "plain":
            result = plain_arm(corpus, minutes, seed, device)
        else:
            result = seqgen_arm(corpus, minutes, seed, device, ARM_PRECISION[name])
    except Exception:  # one arm's failure must not lose the other's figures
        import traceback

        result = {"error": traceback.format_exc()}
    result["clock_seconds"] = round(time.perf_counter() - started, 1)
    result["threads"] = threads
    return name, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="training minutes per arm")
    parser.add_argument("--corpus", default=str(SHARED), help="text file (default: shared tiny shakespeare)")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--parallel", action="store_true",
                        help="run both arms at once, the CPU cores split between them (half the wall time)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="budget by wall-clock time, or by the CPU time each arm's process received "
                             "(with --parallel on a 2-core machine: one thread per arm; fair on a busy machine)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--arms", default="plain,seqgen_fp32,seqgen",
                        help="comma-separated: plain (the textbook loop), seqgen (its defaults), seqgen_fp32, "
                             "seqgen_bf16 (its defaults with that precision)")
    parser.add_argument("--output", default="benchmarks/quality.json")
    args = parser.parse_args()
    names = args.arms.split(",")
    if not set(names) <= set(ARMS):
        parser.error(f"--arms takes {', '.join(ARMS)}, not {args.arms!r}")
    if args.clock == "cpu" and not args.parallel:
        parser.error("--clock cpu goes with --parallel (one thread per arm, so CPU time is compute time)")
    if args.device == "cuda" and (args.parallel or not torch.cuda.is_available()):
        parser.error("--device cuda needs a GPU and runs the arms one after the other (no --parallel)")
    if not Path(args.corpus).exists():
        sys.exit(f"error: {args.corpus} not found; pass --corpus")

    cores = os.cpu_count() or 1
    threads = max(1, cores // 2) if args.parallel else cores
    if args.clock == "cpu":
        threads = 1
    load_at_start = os.getloadavg()
    jobs = [(name, args.corpus, args.minutes, args.seed, threads, args.clock, args.device) for name in names]
    if args.parallel:
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            arms = dict(pool.map(run_arm, jobs))
    else:
        arms = dict(run_arm(job) for job in jobs)
    report = {
        "benchmark": "quality per minute, character LM (BENCHMARKS.md §1)",
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_name(), "cpu_native_bf16": cpu_has_native_bf16(), "platform": platform.platform(),
                    "cores": cores, "load_average_at_start": load_at_start, "load_average_at_end": os.getloadavg(),
                    "torch": torch.__version__, "parallel_arms": args.parallel, "clock": args.clock,
                    "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu"},
        "minutes": args.minutes,
        "arms": arms,
    }
    for arm, other in (("seqgen", "plain"), ("seqgen", "seqgen_fp32"), ("seqgen_bf16", "seqgen_fp32")):
        if all("best_val_loss" in arms.get(name, {}) for name in (arm, other)):
            report[f"{arm}_minus_{other}_nats"] = arms[arm]["best_val_loss"] - arms[other]["best_val_loss"]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    for name, arm in arms.items():
        if "error" in arm:
            print(f"{name:11s} failed:\n{arm['error']}")
        else:
            print(f"{name:11s} best val loss {arm['best_val_loss']:.4f} nats/char after {arm['steps']} steps")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
