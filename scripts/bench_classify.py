"""Classification on the UCR/UEA archive's default splits: ECG200 (UCR text, one channel), ItalyPowerDemand
(.ts, one channel) and BasicMotions (.ts, six channels). For each data set the settings are chosen by
cross-validation on the training file alone (out-of-fold accuracy of a 5-network run, each network scored
on the fold it held out), then `seqgen train --task classify` with those settings is scored on the test file
for 5 seeds; the median is reported. The test file is never used to choose anything. Writes one JSON.

    python scripts/bench_classify.py --output benchmarks/classify.json
    python scripts/bench_classify.py --datasets ECG200 --cv-from benchmarks/classify.json   # one data set again

An existing output keeps the data sets not re-run; --cv-from reuses earlier cross-validation scores.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seqgen.checkpoint import load_checkpoint
from seqgen.tasks.classify import ClassifyConfig
from seqgen.tasks.classify.classify import predict_proba, rebuild
from seqgen.tasks.classify.data import read_training_data
from seqgen.tasks.classify.train import train as train_classifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASETS = {  # name: (folder, train file, test file, published figures)
    "ECG200": ("ecg200", "ECG200_TRAIN.txt", "ECG200_TEST.txt",
               {"InceptionTime": 0.93, "ROCKET": 0.906, "LSTM-FCN": 0.92, "FCN": 0.90, "ResNet": 0.87}),
    "ItalyPowerDemand": ("italypowerdemand", "ItalyPowerDemand_TRAIN.ts", "ItalyPowerDemand_TEST.ts",
                         {"ROCKET": 0.97, "InceptionTime": 0.97, "LSTM-FCN": 0.96}),
    "BasicMotions": ("basicmotions", "BasicMotions_TRAIN.ts", "BasicMotions_TEST.ts",
                     {"ROCKET": 1.00, "InceptionTime": 1.00}),
}
# The settings cross-validation chooses among (the first is seqgen's defaults); a tie goes to the earlier one.
CANDIDATES = [
    {},
    {"conv_channels": 128},
    {"hidden_size": 32, "conv_channels": 128, "dropout": 0.3},
    {"class_weights": False},
    {"class_weights": False, "conv_channels": 128},
]


def out_of_fold_accuracy(config: ClassifyConfig) -> float:
    """Train 5 networks on the training file, each holding out its own fifth, and score every example with the
    network that did not learn from it: cross-validation on the training file alone."""
    config = dataclasses.replace(config, ensemble=5, val_fraction=0.2, test=None)
    run = train_classifier(config, progress=False)
    payload = load_checkpoint(run.best_path, task="classify")
    data = read_training_data(config)
    right = total = 0
    for weights, record in zip(payload["members"], payload["training"]):
        rows = record["val_rows"]
        model = rebuild(payload["model_config"], weights)
        p = predict_proba([model], payload["scaling"], [data.sequences[r] for r in rows])
        right += sum(data.classes[int(k)] == data.labels[r] for k, r in zip(p.argmax(1), rows))
        total += len(rows)
    return right / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA), help="folder holding ecg200/, italypowerdemand/, basicmotions/")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--ensemble", type=int, default=3, help="networks in each scored run [default: 3, seqgen's]")
    parser.add_argument("--cv-from", default=None,
                        help="reuse the cross-validation scores of this earlier output for the candidates it holds")
    parser.add_argument("--output", default="benchmarks/classify.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # seqgen's thread policy keeps to it too

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.datasets.split(","):
            folder, train_file, test_file, published = DATASETS[name]
            base = ClassifyConfig(corpus=str(Path(args.data) / folder / train_file),
                                  test=str(Path(args.data) / folder / test_file), device="cpu", output_dir=scratch)
            # 1. choose the settings by cross-validation on the training file (seed 0)
            earlier = {}
            if args.cv_from and Path(args.cv_from).exists():
                done = json.loads(Path(args.cv_from).read_text())["datasets"].get(name, {}).get("cross_validation", [])
                earlier = {json.dumps(entry["settings"], sort_keys=True): entry for entry in done}
            scores = []
            for i, candidate in enumerate(CANDIDATES):
                key = json.dumps(candidate, sort_keys=True)
                if key in earlier:
                    scores.append(earlier[key])
                    continue
                start = time.perf_counter()
                score = out_of_fold_accuracy(dataclasses.replace(base, name=f"{name}-cv{i}", seed=0, **candidate))
                scores.append({"settings": candidate, "cv_accuracy": score,
                               "seconds": round(time.perf_counter() - start, 1)})
                print(f"{name} cv {candidate or 'defaults'}: out-of-fold accuracy {score:.3f}")
            chosen = max(range(len(CANDIDATES)), key=lambda i: (scores[i]["cv_accuracy"], -i))
            # 2. score the chosen settings on the test file, 5 seeds
            runs = []
            for seed in range(args.seeds):
                config = dataclasses.replace(base, seed=seed, name=f"{name}-seed{seed}", ensemble=args.ensemble,
                                             **CANDIDATES[chosen])
                start = time.perf_counter()
                run = train_classifier(config, progress=False)
                seconds = time.perf_counter() - start
                report = run.report
                runs.append({"seed": seed, "seconds": round(seconds, 1), "epochs": run.epochs,
                             "accuracy": report["accuracy"], "macro_f1": report["macro_f1"],
                             "confusion": report["confusion"]})
                print(f"{name} seed {seed}: accuracy {report['accuracy']:.3f}  macro-F1 {report['macro_f1']:.3f}  "
                      f"({run.epochs} epochs, {seconds:.0f} s)")
            median = {key: float(np.median([r[key] for r in runs])) for key in ("accuracy", "macro_f1")}
            print(f"{name}: median of {args.seeds} seeds: accuracy {median['accuracy']:.3f}  "
                  f"(published: {', '.join(f'{k} {v}' for k, v in published.items())})")
            results[name] = {"train": train_file, "test": test_file, "cross_validation": scores,
                             "chosen": CANDIDATES[chosen],
                             "config": {k: v for k, v in dataclasses.asdict(dataclasses.replace(
                                 base, ensemble=args.ensemble, **CANDIDATES[chosen])).items() if k not in ("corpus", "test", "output_dir")},
                             "median": median, "runs": runs, "published": published}
    result = {
        "benchmark": "classification on the archive's default train/test splits",
        "protocol": "settings chosen among `candidates` by out-of-fold accuracy on the training file (5 folds, seed 0); "
                    "the chosen settings trained with seeds 0..4 and scored on the test file; median reported",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": 1,
                    "note": "a 2-core CPU shared with other jobs: timings are pessimistic"},
        "candidates": CANDIDATES, "datasets": results,
    }
    path = Path(args.output)
    if path.exists():  # data sets not re-run keep their figures
        kept = json.loads(path.read_text()).get("datasets", {})
        result["datasets"] = {**{k: v for k, v in kept.items() if k not in results}, **results}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
