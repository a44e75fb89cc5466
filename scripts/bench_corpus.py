"""Reading a large corpus: time and peak memory to read and tokenise a ~100 MB text file (char and
bpe), and to get a training run to its first step, each in a fresh process.

    python scripts/bench_corpus.py --size-mb 100 --output benchmarks/corpus.json

The corpus is tiny shakespeare repeated to the size asked (written to a temporary folder), so
the figures are reproducible from the shared data alone.
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

# Each stage runs in its own interpreter, so its peak resident memory is its own.
STAGE = r"""
import json, resource, sys, time
start = time.perf_counter()
from seqgen.models import ModelConfig
from seqgen.tasks.language_model import TrainConfig
from seqgen.tasks.language_model.data import load_splits
import sentencepiece, torch, seqgen.tasks.language_model.train  # every library the stage uses, so `base` holds their imports
stage, path, kind = sys.argv[1], sys.argv[2], sys.argv[3]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # the corpus's own cost is measured above this
config = TrainConfig(corpus=path, tokenizer=kind, vocab_size=4000, max_steps=1, eval_interval=10**9,
                     val_fraction=0.001, test_fraction=0.0,
                     output_dir=sys.argv[4], name=stage + kind, device="cpu")
begin = time.perf_counter()
if stage == "tokenise":
    splits = load_splits(config, progress=False)
    tokens = sum(len(v) for v in splits.ids.values())
else:
    from seqgen.tasks.language_model.train import train
    result = train(ModelConfig(), config, progress=False)
    tokens = None
seconds = time.perf_counter() - begin
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak / 1024, "imports_rss_mb": base / 1024, "tokens": tokens}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=100.0)
    parser.add_argument("--source", default=str(SHARED))
    parser.add_argument("--output", default="benchmarks/corpus.json")
    args = parser.parse_args()
    text = Path(args.source).read_text(encoding="utf-8")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "big.txt"
        with corpus.open("w", encoding="utf-8") as f:
            written = 0
            while written < args.size_mb * 1e6:
                f.write(text)
                written += len(text.encode("utf-8"))
        size_mb = corpus.stat().st_size / 1e6
        for stage in ("tokenise", "first-step"):
            for kind in ("char", "bpe"):
                out = subprocess.run([sys.executable, "-c", STAGE, stage, str(corpus), kind, folder],
                                     capture_output=True, text=True, check=True)
                row = json.loads(out.stdout.strip().splitlines()[-1])
                row["peak_over_file_size"] = (row["peak_rss_mb"] - row["imports_rss_mb"]) / size_mb
                results[f"{stage}/{kind}"] = row
                print(f"{stage:10s} {kind:4s} {row['seconds']:7.1f} s  peak {row['peak_rss_mb']:7.0f} MB "
                      f"({row['peak_over_file_size']:.2f}× the file above the {row['imports_rss_mb']:.0f} MB of imports)")
    report = {
        "benchmark": "large corpus: read, tokenise, start training",
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cores": os.cpu_count()},
        "corpus_mb": size_mb,
        "results": results,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
