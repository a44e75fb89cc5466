"""ECG200, the protocol of ../shared/BENCHMARKS.md §6: train on ECG200_TRAIN (a validation split carved from
it for early stopping), report accuracy and macro-F1 on ECG200_TEST, median over 5 seeds of
`seqgen train --task classify` with its defaults. Writes JSON.

    python scripts/bench_classify.py --output benchmarks/classify-ecg200.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seqgen.tasks.classify import ClassifyConfig
from seqgen.tasks.classify.train import train as train_classifier

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ecg200"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED), help="folder holding ECG200_TRAIN.txt and ECG200_TEST.txt")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--output", default="benchmarks/classify-ecg200.json")
    args = parser.parse_args()

    data = Path(args.data)
    base = ClassifyConfig(corpus=str(data / "ECG200_TRAIN.txt"), test=str(data / "ECG200_TEST.txt"), device="cpu")
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(args.seeds):
            config = dataclasses.replace(base, seed=seed, output_dir=scratch, name=f"seed{seed}")
            start = time.perf_counter()
            run = train_classifier(config, progress=False)
            seconds = time.perf_counter() - start
            report = run.report
            runs.append({"seed": seed, "seconds": round(seconds, 1), "epochs": run.epochs,
                         "accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "confusion": report["confusion"]})
            print(f"seed {seed}: accuracy {report['accuracy']:.3f}  macro-F1 {report['macro_f1']:.3f}  "
                  f"({run.epochs} epochs, {seconds:.0f} s)")
    median = {key: float(np.median([r[key] for r in runs])) for key in ("accuracy", "macro_f1")}
    print(f"median of {args.seeds} seeds: accuracy {median['accuracy']:.3f}  macro-F1 {median['macro_f1']:.3f}  "
          "(references: LSTM-FCN 0.92, FCN 0.90, ResNet 0.87)")
    result = {
        "benchmark": "ECG200 test accuracy and macro-F1 (BENCHMARKS.md §6)",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": 1},
        "config": {k: v for k, v in dataclasses.asdict(base).items() if k not in ("corpus", "test")},
        "median": median, "runs": runs,
        "references": {"LSTM-FCN": 0.92, "FCN": 0.90, "ResNet": 0.87, "plain 2-layer BiLSTM": 0.80},
    }
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
