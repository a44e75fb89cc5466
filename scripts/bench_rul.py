"""Remaining useful life on C-MAPSS FD001, as the literature measures it: `seqgen train --task remaining-life` with
its defaults on train_FD001.txt, scored on the 100 test engines at each one's last cycle against RUL_FD001.txt
(RMSE and the PHM08 score), for 5 seeds; the median and range are reported beside the baselines fitted in the
same runs and the published figures. Nothing is chosen on the test file. Writes one JSON.

    python scripts/bench_rul.py --output benchmarks/rul-fd001.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seqgen.device import cpu_name
from seqgen.tasks.remaining_life import RemainingLifeConfig
from seqgen.tasks.remaining_life.evaluate import MODEL, REFERENCES
from seqgen.tasks.remaining_life.train import train

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmapss"
CPU = cpu_name()


def summary(values: list) -> dict:
    return {"median": float(np.median(values)), "min": float(np.min(values)), "max": float(np.max(values))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA), help="folder holding train_FD001.txt, test_FD001.txt, RUL_FD001.txt")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=240.0,
                        help="CPU seconds one seed may take (training and scoring); a seed over it is flagged")
    parser.add_argument("--output", default="benchmarks/rul-fd001.json")
    parser.add_argument("--plot", default="docs/guides/remaining-life-fd001.png",
                        help="where the first seed's test plot (true and estimated remaining cycles) is copied")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # seqgen's thread policy keeps to it too

    data = Path(args.data)
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        base = RemainingLifeConfig(corpus=str(data / "train_FD001.txt"), test=str(data / "test_FD001.txt"),
                                   test_targets=str(data / "RUL_FD001.txt"), output_dir=scratch, threads=1)
        for seed in range(args.seeds):
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            run = train(dataclasses.replace(base, seed=seed, name=f"seed{seed}"), progress=False)
            cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start_wall
            scores = run.report["scores"]
            if seed == 0 and args.plot:
                Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(run.run_dir / "test.png", args.plot)
            runs.append({"seed": seed, "cpu_seconds": round(cpu, 1), "wall_seconds": round(wall, 1),
                         "over_budget": cpu > args.budget, "epochs": run.epochs, "val_rmse": run.val_rmse,
                         "scores": scores})
            print(f"seed {seed}: RMSE {scores[MODEL]['rmse']:.2f}  score {scores[MODEL]['score']:.0f}  "
                  f"({cpu:.0f} CPU s, {wall:.0f} s)  baselines: " +
                  ", ".join(f"{k} {v['rmse']:.2f}" for k, v in scores.items() if k != MODEL), flush=True)
    methods = list(runs[0]["scores"])
    figures = {name: {"rmse": summary([r["scores"][name]["rmse"] for r in runs]),
                      "score": summary([r["scores"][name]["score"] for r in runs])} for name in methods}
    model = figures[MODEL]
    print(f"median of {args.seeds} seeds: RMSE {model['rmse']['median']:.2f} ({model['rmse']['min']:.2f}-"
          f"{model['rmse']['max']:.2f}), score {model['score']['median']:.0f}; published: " +
          ", ".join(f"{k} {r} / {s:.0f}" for k, (r, s) in REFERENCES.items()))
    config = dataclasses.asdict(base)
    result = {
        "benchmark": "remaining useful life, C-MAPSS FD001 test set (100 engines, each at its last cycle)",
        "command": "python " + " ".join(sys.argv),
        "each_run": "seqgen train --task remaining-life --corpus train_FD001.txt --test test_FD001.txt "
                "--test-targets RUL_FD001.txt --seed S  (S = 0..4)",
        "protocol": "seqgen's defaults; targets capped at --cap; scaling and columns from the training engines alone; "
                    "RMSE and PHM08 score against RUL_FD001.txt (not capped); baselines fitted in the same runs on the "
                    "training engines' windows; median and range over the seeds",
        "rmse_median": model["rmse"]["median"], "rmse_range": [model["rmse"]["min"], model["rmse"]["max"]],
        "score_median": model["score"]["median"], "score_range": [model["score"]["min"], model["score"]["max"]],
        "baselines": {name: figures[name] for name in methods if name != MODEL},
        "published": {name: {"rmse": r, "score": s} for name, (r, s) in REFERENCES.items()},
        "cpu_seconds": summary([r["cpu_seconds"] for r in runs]), "cpu_budget_per_seed": args.budget,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpu": CPU, "platform": platform.platform(), "torch": torch.__version__, "threads": 1},
        "config": {k: v for k, v in config.items() if k not in ("corpus", "test", "test_targets", "output_dir", "name")},
        "runs": runs,
    }
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
