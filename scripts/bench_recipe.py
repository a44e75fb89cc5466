"""Which step shape learns most per CPU-minute: streams × window swept at a fixed training budget.

Each shape trains seqgen's default recipe (only --batch-size and --bptt change) on tiny shakespeare
(BENCHMARKS.md §1 split) at the 2×512 size of bench_quality, for the same minutes of CPU time,
and reports the best validation loss (16 streams, state carried). Shapes run two at a time, one
thread each, each budgeted by the CPU time its own process received, so the comparison is fair on
a busy machine. This is how the default shape (16 × 32) was chosen. Writes JSON.

    python scripts/bench_recipe.py --minutes 5 --output benchmarks/recipe-5.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from seqgen.models import ModelConfig
from seqgen.tasks.language_model import TrainConfig

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"


def run_shape(args) -> dict:
    corpus, minutes, batch_size, bptt, seed = args
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # seqgen's thread policy keeps to it too
    time.perf_counter = time.process_time  # the training clock is this process's CPU time
    from seqgen.tasks.language_model.train import train

    model_config = ModelConfig(embedding_dim=128, hidden_size=512, num_layers=2)
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(corpus=corpus, val_fraction=0.1, test_fraction=0.0, max_time=minutes, seed=seed,
                             batch_size=batch_size, bptt=bptt, eval_interval=max(1, 200_000 // (batch_size * bptt)),
                             output_dir=out, name="recipe", device="cpu")
        result = train(model_config, config, progress=False)
    history = [(h["step"], round(h["elapsed"] / 60, 2), round(h["val_loss"], 4))
               for h in result.history if h.get("val_loss") is not None]
    return {"batch_size": batch_size, "bptt": bptt, "steps": result.step,
            "tokens": result.step * batch_size * bptt, "best_val_loss": result.best_val_loss,
            "history_step_minutes_val": history}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="CPU minutes of training per shape")
    parser.add_argument("--shapes", default="16x32,32x32,32x64,32x128", help="comma-separated STREAMSxWINDOW")
    parser.add_argument("--corpus", default=str(SHARED), help="text file (default: shared tiny shakespeare)")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--output", default="benchmarks/recipe.json")
    args = parser.parse_args()
    if not Path(args.corpus).exists():
        sys.exit(f"error: {args.corpus} not found; pass --corpus")
    try:
        shapes = [tuple(int(n) for n in shape.split("x")) for shape in args.shapes.split(",")]
    except ValueError:
        sys.exit(f"error: --shapes takes STREAMSxWINDOW pairs such as 16x32,32x64, not {args.shapes!r}")
    jobs = [(args.corpus, args.minutes, batch_size, bptt, args.seed) for batch_size, bptt in shapes]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(run_shape, jobs)
    report = {
        "benchmark": "step shape per CPU-minute, character LM (BENCHMARKS.md §1 split)",
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads_per_shape": 1,
                    "clock": "cpu"},
        "minutes": args.minutes,
        "model": "2×512, embedding 128, seqgen defaults otherwise",
        "results": results,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    for r in sorted(results, key=lambda r: r["best_val_loss"]):
        print(f"{r['batch_size']:4d} × {r['bptt']:<4d} best val {r['best_val_loss']:.4f} nats/char, "
              f"{r['steps']} steps, {r['tokens'] / 1e6:.2f} M tokens")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
