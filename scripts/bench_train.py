"""Training throughput: tokens/s of a real seqgen training run against a bare
Embedding → nn.LSTM → Linear → AdamW step of the same shape, timed in the same process, in five
arms: the bare step in fp32 and under bf16 autocast, seqgen with --precision fp32, with --precision bf16
and with its default --precision auto (bf16 where the device computes it natively and the step is large).

    python scripts/bench_train.py --output benchmarks/train.json                  # CPU, 2×512 T128 B64
    python scripts/bench_train.py --device cuda --shapes small,large              # on a GPU
    python scripts/bench_train.py --shapes 2x512/32x16,2x512/64x64 --arms bare_fp32,bare_bf16 --threads 1
        # where bf16 starts to pay on a CPU: the bare steps at several sizes (layers x hidden / bptt x batch)

The seqgen figure comes from `seqgen.tasks.language_model.train` itself (data windows, state carrying, the
schedule, clipping, loss logging); the time of its steps is taken from the run's own history,
between its first and last log points, so start-up and evaluation are left out of both figures. Every arm
runs on --threads CPU threads (default: as many as PyTorch starts with), seqgen's with --threads too.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from seqgen.device import autocast, cpu_has_native_bf16, cpu_name, resolve_precision
from seqgen.models import ModelConfig
from seqgen.tasks.language_model import TrainConfig

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"
SHAPES = {"small": (2, 512, 128, 64), "large": (3, 1024, 128, 256)}  # layers, hidden, bptt, batch
ARMS = ("bare_fp32", "bare_bf16", "seqgen_fp32", "seqgen_bf16", "seqgen_auto")


def shape_of(name: str) -> tuple:
    """A named shape, or LxH/TxB (e.g. 2x512/32x16: 2 layers of 512, bptt 32, batch 16)."""
    if name in SHAPES:
        return SHAPES[name]
    try:
        network, step = name.split("/")
        layers, hidden = (int(v) for v in network.split("x"))
        bptt, batch = (int(v) for v in step.split("x"))
    except ValueError:
        sys.exit(f"error: shape {name!r} is neither {' nor '.join(SHAPES)} nor LxH/TxB, e.g. 2x512/32x16")
    return layers, hidden, bptt, batch


def bare_tokens_per_second(layers, hidden, bptt, batch, steps, device, precision, vocab=65) -> float:
    embedding = nn.Embedding(vocab, hidden).to(device)
    lstm = nn.LSTM(hidden, hidden, layers, batch_first=True).to(device)
    head = nn.Linear(hidden, vocab).to(device)
    params = [*embedding.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=1e-3, fused=device.type == "cuda")
    data = torch.randint(vocab, (batch, bptt + 1), device=device)

    def step():
        with autocast(device, precision):
            out, _ = lstm(embedding(data[:, :-1]))
            loss = nn.functional.cross_entropy(head(out).float().flatten(0, 1), data[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * bptt * steps / (time.perf_counter() - start)


def seqgen_tokens_per_second(layers, hidden, bptt, batch, steps, device, corpus, precision, threads) -> float:
    from seqgen.tasks.language_model.train import train

    log = 5
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(corpus=corpus, batch_size=batch, bptt=bptt, max_steps=steps + log, eval_interval=10**9,
                             log_interval=log, val_fraction=0.01, test_fraction=0.0, output_dir=out, name="bench",
                             device=device.type, precision=precision, threads=threads)
        model = ModelConfig(embedding_dim=hidden, hidden_size=hidden, num_layers=layers, dropout=0.0)
        result = train(model, config, progress=False)
    points = [(h["step"], h["elapsed"]) for h in result.history if "train_loss" in h]
    (first_step, first_time), (last_step, last_time) = points[0], points[-1]  # the steps before the first log warm up
    return batch * bptt * (last_step - first_step) / (last_time - first_time)


def arm_tokens_per_second(arm: str, shape: tuple, args, device, threads: int) -> float:
    kind, precision = arm.split("_")
    if kind == "bare":
        return bare_tokens_per_second(*shape, args.steps, device, precision)
    return seqgen_tokens_per_second(*shape, args.steps, device, args.corpus, precision, threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--shapes", default="small", help="comma-separated: small (2×512 T128 B64), large (3×1024 "
                        "T128 B256), or LxH/TxB")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {', '.join(ARMS)}")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of every arm [default: PyTorch's]")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds; the best of each is kept")
    parser.add_argument("--corpus", default=str(SHARED))
    parser.add_argument("--output", default="benchmarks/train.json")
    args = parser.parse_args()
    device = torch.device(args.device)
    wanted = args.arms.split(",")
    if not set(wanted) <= set(ARMS):
        parser.error(f"--arms takes {', '.join(ARMS)}, not {args.arms!r}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    load_at_start = os.getloadavg()
    results = {}
    for name in args.shapes.split(","):
        layers, hidden, bptt, batch = shape_of(name)
        auto = resolve_precision("auto", device, bptt * batch)
        arms = {arm: [] for arm in wanted}
        for _ in range(args.repeats):  # alternate, so drifting machine load hits every arm alike
            for arm in wanted:
                arms[arm].append(arm_tokens_per_second(arm, (layers, hidden, bptt, batch), args, device, threads))
        best = {arm: max(values) for arm, values in arms.items()}
        ratios = {f"{a}_vs_{b}": best[a] / best[b] for a, b in (("seqgen_fp32", "bare_fp32"), ("seqgen_auto", "bare_fp32"),
                                                                 ("seqgen_auto", "bare_bf16"), ("bare_bf16", "bare_fp32"))
                  if a in best and b in best}
        results[name] = {"shape": {"num_layers": layers, "hidden_size": hidden, "bptt": bptt, "batch_size": batch,
                                   "tokens_per_step": bptt * batch},
                         "auto_is": auto, **{f"{arm}_tokens_per_s": value for arm, value in best.items()},
                         "every_round": arms, **ratios}
        print(f"{name} ({bptt * batch} tokens/step, auto is {auto}): "
              + ", ".join(f"{arm} {value:,.0f}" for arm, value in best.items()) + " tok/s; "
              + ", ".join(f"{key} ×{value:.2f}" for key, value in ratios.items()))
    report = {
        "benchmark": "training throughput (BENCHMARKS.md §2)",
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "threads": threads, "torch": torch.__version__,
                    "device": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
                    "cpu": cpu_name(), "cpu_native_bf16": cpu_has_native_bf16(),
                    "load_average_at_start": load_at_start, "load_average_at_end": os.getloadavg()},
        "results": results,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
