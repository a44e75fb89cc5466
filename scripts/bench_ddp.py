"""Data-parallel throughput: tokens/s of `seqgen train` in one process against the same run split over
several processes with torchrun, at the same global batch, in one script.

    python scripts/bench_ddp.py --output benchmarks/ddp.json                 # CPU: 1 process × 2 threads vs 2 × 1
    python scripts/bench_ddp.py --device cuda --output benchmarks/ddp-gpu.json   # 1 GPU vs all of them

On the CPU the two arms use the same cores (one process with as many threads as cores, against one process
per core with one thread each). On CUDA the batch per GPU stays the same and the report gives the scaling
efficiency: tokens/s of N GPUs over N × those of one. Each figure comes from the run's own history, between
its first and last log points, so start-up and evaluation are left out.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"


def run(folder: Path, name: str, processes: int, threads: int, options: list[str]) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    seqgen = [*options, "--output-dir", str(folder), "--name", name, "--sample-length", "0", "--quiet"]
    if processes == 1:
        command = [sys.executable, "-m", "seqgen", "train", *seqgen]
    else:
        command = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc-per-node", str(processes),
                   "-m", "seqgen", "train", *seqgen]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
    summary = json.loads((folder / name / "run.json").read_text())
    logged = [row for row in summary["history"] if "train_loss" in row]
    first, last = logged[0], logged[-1]
    config = summary["train_config"]
    tokens = (last["step"] - first["step"]) * config["batch_size"] * config["bptt"]
    seconds = last["elapsed"] - first["elapsed"]
    return {"processes": processes, "threads_per_process": threads, "steps_timed": last["step"] - first["step"],
            "seconds": round(seconds, 3), "tokens_per_second": round(tokens / seconds, 1),
            "world_size": summary.get("world_size"), "backend": summary.get("backend"),
            "precision": summary.get("precision")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(SHARED))
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch (CPU); batch per GPU (CUDA)")
    parser.add_argument("--bptt", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each arm; the best is kept")
    parser.add_argument("--output", default="benchmarks/ddp.json")
    args = parser.parse_args()

    def options(batch: int) -> list[str]:
        return ["--corpus", args.corpus, "--device", args.device, "--hidden-size", str(args.hidden_size),
                "--embedding-dim", str(args.hidden_size), "--num-layers", str(args.num_layers), "--batch-size",
                str(batch), "--bptt", str(args.bptt), "--max-steps", str(args.steps), "--log-interval", "5",
                "--eval-interval", str(10 * args.steps), "--val-fraction", "0.01", "--precision", args.precision]

    results = {}
    with tempfile.TemporaryDirectory() as folder:
        if args.device == "cpu":
            cores = os.cpu_count() or 1
            arms = {"1 process": (1, cores, args.batch_size), f"{cores} processes": (cores, 1, args.batch_size)}
        else:
            import torch

            gpus = torch.cuda.device_count()
            arms = {"1 GPU": (1, 1, args.batch_size), f"{gpus} GPUs": (gpus, 1, args.batch_size * gpus)}
        for repeat in range(args.repeats):
            for arm, (processes, threads, batch) in arms.items():
                row = run(Path(folder), f"{arm.replace(' ', '-')}-{repeat}", processes, threads, options(batch))
                print(f"{arm:12s} run {repeat}: {row['tokens_per_second']:,.0f} tokens/s")
                if arm not in results or row["tokens_per_second"] > results[arm]["tokens_per_second"]:
                    results[arm] = row
    names = list(arms)
    ratio = results[names[1]]["tokens_per_second"] / results[names[0]]["tokens_per_second"]
    report = {
        "benchmark": "data-parallel training throughput, seqgen train vs torchrun",
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cores": os.cpu_count(), "device": args.device},
        "shape": {"layers": args.num_layers, "hidden": args.hidden_size, "bptt": args.bptt},
        "results": results,
        "ratio": round(ratio, 3),
    }
    if args.device == "cuda":
        report["scaling_efficiency"] = round(ratio / results[names[1]]["processes"], 3)
    print(f"{names[1]} / {names[0]}: ×{ratio:.2f}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
