"""Sampling speed: µs per token at batch 1 and tokens/s at a large batch, seqgen's sampler against an
eager PyTorch step (nn.LSTM + softmax + multinomial) of the same model, timed in the same process.

    python scripts/bench_sample.py --output benchmarks/sample.json            # 2×512 on the CPU
    python scripts/bench_sample.py --device cuda --num-layers 3 --batch 512   # 3×512 on a GPU
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import torch

from seqgen.decode.sampling import generate
from seqgen.models import LSTMLanguageModel, ModelConfig


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.inference_mode()
def eager_tokens_per_second(model, batch: int, steps: int, device) -> float:
    """The textbook loop: one nn.LSTM call per token, softmax, multinomial."""
    token = torch.zeros(batch, 1, dtype=torch.long, device=device)
    state = None
    for _ in range(5):
        logits, state = model(token, state)
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        logits, state = model(token, state)
        token = torch.multinomial(logits[:, -1].softmax(-1), 1)
    sync(device)
    return batch * steps / (time.perf_counter() - start)


def seqgen_tokens_per_second(model, batch: int, steps: int, device) -> float:
    prime = torch.zeros(batch, 1, dtype=torch.long, device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    tokens = generate(model, prime, steps + 1, 1.0, generator=generator)
    next(tokens)  # set-up (the primer's forward pass; on CUDA the graph capture) is not per-token cost
    sync(device)
    start = time.perf_counter()
    for _ in tokens:
        pass
    sync(device)
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--vocab-size", type=int, default=65)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds; the best of each is kept")
    parser.add_argument("--output", default="benchmarks/sample.json")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=args.vocab_size, embedding_dim=args.hidden_size, hidden_size=args.hidden_size,
                         num_layers=args.num_layers, dropout=0.0)
    model = LSTMLanguageModel(config).to(device).eval()
    results = {}
    for batch in (1, args.batch):
        steps = args.steps if batch == 1 else max(20, args.steps // 10)
        eager, ours = [], []
        for _ in range(args.repeats):  # alternate, so drifting machine load hits both alike
            eager.append(eager_tokens_per_second(model, batch, steps, device))
            ours.append(seqgen_tokens_per_second(model, batch, steps, device))
        results[f"batch_{batch}"] = {
            "eager_tokens_per_s": max(eager), "seqgen_tokens_per_s": max(ours),
            "eager_us_per_step": 1e6 * batch / max(eager), "seqgen_us_per_step": 1e6 * batch / max(ours),
            "speedup": max(ours) / max(eager),
        }
        print(f"batch {batch}: eager {1e6 * batch / max(eager):8.0f} µs/step, seqgen {1e6 * batch / max(ours):8.0f} µs/step, "
              f"speed-up ×{max(ours) / max(eager):.2f}")
    report = {
        "benchmark": "sampling speed (BENCHMARKS.md §3)",
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
                    "threads": torch.get_num_threads(), "torch": torch.__version__},
        "model": {"hidden_size": args.hidden_size, "num_layers": args.num_layers, "vocab_size": args.vocab_size},
        "results": results,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
