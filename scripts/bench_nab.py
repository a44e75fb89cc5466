"""Streaming anomaly detection on NAB v1.0 (BENCHMARKS.md §9), scored by NAB's own rules
(seqgen.tasks.detect.evaluate). Writes JSON.

  1. scorer_check: the scorer fed NAB's published windowedGaussian results and thresholds must give that
     detector's published row (standard 39.6).
  2. seqgen's detector (an LSTM learning online, errors → anomaly likelihood) on all 58 files, each read once in
     file order with NAB's probation (15 %, at most 750 records); thresholds optimised over the corpus per
     profile, as NAB does for every detector.
  3. the trivial baseline in the same run: the last value as the forecast, its errors through the same
     likelihood.

    python scripts/bench_nab.py --output benchmarks/nab.json
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import multiprocessing
import os
import platform
import time
from pathlib import Path

import numpy as np

from seqgen.device import cpu_name
from seqgen.tasks.detect.config import DetectConfig
from seqgen.tasks.detect.detect import detect
from seqgen.tasks.detect.evaluate import PROFILES, nab_score, probation_length, window_indices

NAB = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
CPU = cpu_name()
PUBLISHED = {"windowedGaussian": {"standard": 39.6, "reward_low_FP_rate": 20.9, "reward_low_FN_rate": 47.4},
             "numenta HTM": {"standard": 70.5}, "randomCutForest": {"standard": 51.7}}


class LastValue:
    """The trivial forecaster: each record forecast by the one before it."""

    window = 1

    def one_step(self, values: np.ndarray) -> np.ndarray:
        return np.r_[np.nan, values[:-1]]


def read(path: Path) -> tuple[list, np.ndarray]:
    with open(path) as f:
        rows = list(csv.reader(f))[1:]
    return [r[0] for r in rows], np.array([float(r[1]) for r in rows])


def run_file(job: tuple) -> tuple:
    """(key, scores of seqgen's detector, scores of the baseline, CPU seconds) of one data file."""
    key, seed, keep = job
    start = time.process_time()
    _, values = read(NAB / "data" / key)
    config = DetectConfig(probation=probation_length(len(values)), seed=seed)
    detection = detect(values, config=config)
    lstm = detection.scores
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        np.save(Path(keep) / (key.replace("/", "__") + ".npy"), detection.errors)
    baseline = detect(values, LastValue(), config=DetectConfig(probation=config.probation)).scores
    return key, lstm, baseline, time.process_time() - start


def scorer_check(windows: dict) -> dict:
    thresholds = json.loads((NAB / "config" / "thresholds.json").read_text())["windowedGaussian"]
    corpus = {}
    for path in sorted((NAB / "results" / "windowedGaussian").glob("*/*.csv")):
        key = f"{path.parent.name}/{path.name.removeprefix('windowedGaussian_')}"
        with open(path) as f:
            rows = list(csv.DictReader(f))
        corpus[key] = (np.array([float(r["anomaly_score"]) for r in rows]),
                       window_indices([r["timestamp"] for r in rows], windows[key]))
    found = {p: round(nab_score(corpus, p, thresholds[p]["threshold"])["score"], 2) for p in PROFILES}
    published = json.loads((NAB / "results" / "final_results.json").read_text())["windowedGaussian"]
    return {"scores": found, "published": {p: round(published[p], 2) for p in PROFILES},
            "within_0.5": all(abs(found[p] - published[p]) <= 0.5 for p in PROFILES)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="benchmarks/nab.json")
    parser.add_argument("--processes", type=int, default=1, help="files scored at once (1 thread each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-errors", default=None, help="save each file's LSTM errors (.npy) in this folder")
    parser.add_argument("--only", default=None, help="score only files whose path holds this text (a quick look)")
    args = parser.parse_args()
    windows = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    check = scorer_check(windows)
    print("scorer check:", check, flush=True)
    keys = sorted(k for k in windows if args.only is None or args.only in k)
    started, wall = time.process_time(), time.time()
    with multiprocessing.get_context("fork").Pool(args.processes) as pool:
        results = pool.map(run_file, [(k, args.seed, args.keep_errors) for k in keys], chunksize=1)
    cpu = sum(r[3] for r in results) + time.process_time() - started
    detectors = {}
    for column, name in ((1, "lstm"), (2, "last_value")):
        corpus = {}
        for r in results:
            timestamps, _ = read(NAB / "data" / r[0])
            corpus[r[0]] = (r[column], window_indices(timestamps, windows[r[0]]))
        detectors[name] = {p: nab_score(corpus, p) for p in PROFILES}
        print(name, {p: round(v["score"], 2) for p, v in detectors[name].items()}, flush=True)
    lstm = detectors["lstm"]
    report = {
        "benchmark": "NAB v1.0, 58 files, NAB scoring (seqgen.tasks.detect.evaluate)",
        "command": "python scripts/bench_nab.py --output benchmarks/nab.json"
                   + (f" --processes {args.processes}" if args.processes != 1 else ""),
        "scorer_check": check,
        "standard": round(lstm["standard"]["score"], 2),
        "reward_low_FP_rate": round(lstm["reward_low_FP_rate"]["score"], 2),
        "reward_low_FN_rate": round(lstm["reward_low_FN_rate"]["score"], 2),
        "thresholds": {p: round(v["threshold"], 4) for p, v in lstm.items()},
        "baseline_last_value": {p: round(v["score"], 2) for p, v in detectors["last_value"].items()},
        "published": PUBLISHED,
        "detector": {**{k: v for k, v in DetectConfig().__dict__.items() if k not in ("column", "allow_gaps")},
                     "probation": "NAB's: min(15 % of the file, 750)"},
        "files": len(keys),
        "records": int(sum(len(r[1]) for r in results)),
        "cpu_seconds": round(cpu, 1),
        "wall_seconds": round(time.time() - wall, 1),
        "cpu": CPU, "processes": args.processes, "threads_per_process": 1,
        "machine": {"cpu": CPU, "platform": platform.platform(), "cpus": os.cpu_count()},
        "date": datetime.date.today().isoformat(),
    }
    if args.only is None:
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.output}")
    print(json.dumps({k: report[k] for k in ("standard", "reward_low_FP_rate", "reward_low_FN_rate",
                                              "baseline_last_value", "cpu_seconds", "wall_seconds")}))


if __name__ == "__main__":
    main()
