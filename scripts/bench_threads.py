"""CPU threads: steps/s of seqgen's default thread policy against --threads 1 and --threads 2 (or all usable
CPUs), on a quiet machine and with one CPU-bound competitor process that this script starts and stops, all in
one run. Workloads: the default language-model step (2×256, 16 × 32), the default translation step (dates),
one forecast ensemble (airline, the default recipe), and, quiet only, the 2×512 T 128 B 64 step.

    python scripts/bench_threads.py --output benchmarks/threads.json
    python scripts/bench_threads.py --seconds 2 --big-seconds 4 --output /tmp/threads.json   # a smoke run

Each run is a real `seqgen.train` in this process for a fixed budget of training seconds (evaluation is not
counted); an arm's figure is its optimizer steps per second of training time over --rounds runs (--forecast-rounds
for the forecast, whose runs last a few seconds), the arms taking
turns so that a change of the machine's load hits all of them. A forecast run trains the whole ensemble (five
networks × --forecast-epochs) and its figure is optimizer steps per second of the ensemble's training. The load
average before and after each run is recorded: other programs on the machine count too.
"""

from __future__ import annotations

import os

os.environ.pop("OMP_NUM_THREADS", None)  # the default arm must be the policy's own choice

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

import seqgen  # noqa: E402
from seqgen.device import cpu_name  # noqa: E402
from seqgen.threads import usable_cpus  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"


def cpu_flags() -> dict:
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")).split()
    except (OSError, StopIteration):
        flags = []
    return {"avx512_bf16": "avx512_bf16" in flags, "amx_bf16": "amx_bf16" in flags}


class Competitor:
    """One CPU-bound process (a Python busy loop), as another program on the machine."""

    def __enter__(self):
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.process.kill()
        self.process.wait()


class StepCounter:
    """Counts optimizer steps (AdamW.step calls) while it is entered."""

    def __enter__(self):
        self.steps, self.original = 0, torch.optim.AdamW.step
        counter = self

        def step(optimizer, *args, **kwargs):
            counter.steps += 1
            return counter.original(optimizer, *args, **kwargs)

        torch.optim.AdamW.step = step
        return self

    def __exit__(self, *exc):
        torch.optim.AdamW.step = self.original


def fit_arm(task: str, seconds: float, threads, options: dict) -> dict:
    """A step-based run for `seconds` of training time: steps per training second, and the policy's record."""
    with tempfile.TemporaryDirectory() as out:
        result = seqgen.train(task, max_time=seconds / 60, eval_interval=10**6, output_dir=out, name="bench",
                              threads=threads, progress=False, device="cpu", **options)
        record = json.loads((result.run_dir / "run.json").read_text())
    if result.stop_reason == "interrupted":  # Ctrl-C or a kill stopped the run: the benchmark stops too
        raise SystemExit("interrupted")
    return {"steps_per_s": result.step / record["elapsed_seconds"], "steps": result.step,
            "seconds": record["elapsed_seconds"], "threads": record["threads"]}


def forecast_arm(threads, options: dict) -> dict:
    """One whole forecast ensemble: optimizer steps per second of its training."""
    with tempfile.TemporaryDirectory() as out, StepCounter() as counter:
        start = time.perf_counter()
        result = seqgen.train("forecast", output_dir=out, name="bench", threads=threads, progress=False, **options)
        wall = time.perf_counter() - start
        record = json.loads((result.run_dir / "run.json").read_text())
    return {"steps_per_s": counter.steps / wall, "steps": counter.steps, "seconds": wall, "threads": record["threads"]}


def workloads(args) -> dict:
    big = {"corpus": args.corpus, "hidden_size": 512, "embedding_dim": 512, "batch_size": 64, "bptt": 128}
    return {  # name: (one arm's run, whether it is measured busy too, rounds)
        "language_model_default": (lambda t: fit_arm("language-model", args.seconds, t, {}), True, args.rounds),
        "translate_default": (lambda t: fit_arm("translate", args.seconds, t, {}), True, args.rounds),
        "forecast_ensemble": (lambda t: forecast_arm(t, {"epochs": args.forecast_epochs}), True, args.forecast_rounds),
        "language_model_2x512_T128_B64": (lambda t: fit_arm("language-model", args.big_seconds, t, big), False,
                                          args.rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="training seconds of each run (the small workloads)")
    parser.add_argument("--big-seconds", type=float, default=25.0, help="training seconds of each run, 2×512 T128 B64")
    parser.add_argument("--rounds", type=int, default=2, help="runs of every arm, the arms taking turns")
    parser.add_argument("--forecast-epochs", type=float, default=200.0, help="epochs of each forecast network")
    parser.add_argument("--forecast-rounds", type=int, default=8,
                        help="runs of every arm for the forecast ensemble (a run is a few seconds: more of them)")
    parser.add_argument("--only", default=None, help="comma-separated workloads to run (default: all)")
    parser.add_argument("--conditions", default="quiet,busy", help="quiet, busy or both (default)")
    parser.add_argument("--corpus", default=str(SHARED) if SHARED.exists() else "lady-susan",
                        help="the corpus of the 2×512 workload (the default step trains on the default corpus)")
    parser.add_argument("--output", default="benchmarks/threads.json")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    cpus = usable_cpus()
    fixed = sorted({1, 2, cpus.usable})
    arms = ["default"] + [f"threads_{n}" for n in fixed]
    chosen = workloads(args)
    if args.only:
        chosen = {name: chosen[name] for name in args.only.split(",")}
    results = {}
    for name, (arm_run, busy_too, rounds) in chosen.items():
        results[name] = {}
        for condition in [c for c in ("quiet", "busy") if c in args.conditions.split(",") and (busy_too or c == "quiet")]:
            context = Competitor() if condition == "busy" else contextlib.nullcontext()
            runs = {arm: [] for arm in arms}
            with context:
                for round_ in range(rounds):  # the arms in turn, each round in another order: drifting
                    for arm in arms[round_ % len(arms):] + arms[:round_ % len(arms)]:  # load hits all alike
                        load = os.getloadavg()[0]
                        run = arm_run(None if arm == "default" else int(arm.split("_")[1]))
                        runs[arm].append({**run, "load_before": round(load, 2),
                                          "load_after": round(os.getloadavg()[0], 2)})
                        chosen_counts = [(d["step"], d["threads"], d["why"]) for d in run["threads"].get("decisions", [])]
                        print(f"  {name} {condition} round {round_ + 1} {arm}: {run['steps_per_s']:.2f} steps/s, "
                              f"load {load:.2f}" + (f", chose {chosen_counts}" if chosen_counts else ""), flush=True)
            rate = {arm: sum(r["steps"] for r in runs[arm]) / sum(r["seconds"] for r in runs[arm]) for arm in arms}
            best_fixed = max(rate[a] for a in arms if a != "default")
            best_arm = max((a for a in arms if a != "default"), key=rate.get)
            # the same ratio round by round (each round's runs close in time): how much of it is the machine's noise
            per_round = [runs["default"][i]["steps_per_s"] / runs[best_arm][i]["steps_per_s"] for i in range(rounds)]
            results[name][condition] = {"default_vs_best_fixed": rate["default"] / best_fixed,
                                        "default_vs_best_fixed_by_round": [round(r, 3) for r in per_round],
                                        **{f"{a}_steps_per_s": rate[a] for a in arms}, "runs": runs}
            print(f"{name:32s} {condition:5s} " + "  ".join(f"{a} {rate[a]:7.2f}" for a in arms)
                  + f"  steps/s; default ×{rate['default'] / best_fixed:.2f} the best fixed count (by round: "
                  + ", ".join(f"{r:.2f}" for r in per_round) + ")", flush=True)
    report = {
        "benchmark": "CPU threads (BENCHMARKS.md §10): the default policy against fixed counts, quiet and busy",
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_name(), **cpu_flags(), "platform": platform.platform(), "torch": torch.__version__,
                    "usable_cpus": cpus.describe(), "load_average_at_start": load_at_start,
                    "load_average_at_end": os.getloadavg()},
        "competitor": "one CPU-bound process (python busy loop) for the busy arms",
        "settings": {"seconds": args.seconds, "big_seconds": args.big_seconds, "rounds": args.rounds,
                     "forecast_rounds": args.forecast_rounds, "forecast_epochs": args.forecast_epochs,
                     "corpus": os.path.relpath(args.corpus) if os.path.exists(args.corpus) else args.corpus},
        "results": results,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
