"""A corpus larger than memory: time and peak memory to tokenise a 1 GB text file into its token file
(char and bpe), and time and peak memory from the start of `train` to its first step once the token
file exists, each in a fresh process.

    python scripts/bench_corpus.py --size-mb 1000 --output benchmarks/corpus.json

The corpus is tiny shakespeare repeated to the size asked (written to a temporary folder), so the figures
are reproducible from the shared data alone. Peak memory is the process's peak resident set above what
its imports alone take; the libraries' own start-up (torch's first optimizer, matplotlib) happens before the
clock starts, since it is the same for any corpus.
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
from seqgen.models import ModelConfig
from seqgen.tasks.language_model import TrainConfig
from seqgen.tasks.language_model.data import load_splits
import sentencepiece, torch, seqgen.tasks.language_model.train  # every library the stage uses, so `base` holds their imports
torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])  # torch loads parts of itself on the first optimizer
import matplotlib.pyplot  # the loss plot a run draws when it saves
stage, path, kind = sys.argv[1], sys.argv[2], sys.argv[3]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # the corpus's own cost is measured above this
config = TrainConfig(corpus=path, tokenizer=kind, **({} if kind == "char" else {"vocab_size": 4000}), max_steps=1000, eval_interval=10**9,
                     val_fraction=0.001, test_fraction=0.0,
                     output_dir=sys.argv[4], name=stage + kind, device="cpu")
begin = time.perf_counter()
first_step = []
if stage == "tokenise":
    splits = load_splits(config, progress=False)
    tokens = sum(len(v) for v in splits.ids.values())
else:
    from seqgen.tasks.language_model.train import train

    def at_first_step():  # polled after every step: the first call is the end of the first step
        first_step.append(time.perf_counter())
        return True

    result = train(ModelConfig(), config, should_stop=at_first_step, progress=False)
    tokens = None
seconds = (first_step[0] if first_step else time.perf_counter()) - begin
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak / 1024, "imports_rss_mb": base / 1024, "tokens": tokens}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1000.0)
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
        for kind in ("char", "bpe"):
            env = {**os.environ, "SEQGEN_CACHE": str(Path(folder) / f"cache-{kind}")}  # a cold cache per tokenizer
            for stage in ("tokenise", "first-step"):
                out = subprocess.run([sys.executable, "-c", STAGE, stage, str(corpus), kind, folder],
                                     capture_output=True, text=True, env=env)
                if out.returncode:
                    sys.exit(f"{stage}/{kind} failed:\n{out.stderr[-3000:]}")
                row = json.loads(out.stdout.strip().splitlines()[-1])
                row["peak_above_imports_mb"] = row["peak_rss_mb"] - row["imports_rss_mb"]
                if stage == "tokenise":
                    row["mb_per_second"] = size_mb / row["seconds"]
                results[f"{stage}/{kind}"] = row
                rate = f"  {row['mb_per_second']:.1f} MB/s" if stage == "tokenise" else ""
                print(f"{stage:10s} {kind:4s} {row['seconds']:7.1f} s{rate}  peak {row['peak_above_imports_mb']:7.0f} MB "
                      f"above the {row['imports_rss_mb']:.0f} MB of imports", flush=True)
    report = {
        "benchmark": "corpus larger than memory: tokenise once, then memory-map",
        "targets": {"first_step_seconds": 5, "char_peak_above_imports_mb": 500, "char_tokenise_mb_per_second": 20},
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
