"""Sampling speed: µs per token at batch 1 and tokens/s at a large batch, seqgen's sampler against an
eager PyTorch step (nn.LSTM + softmax + multinomial) of the same model, timed in the same process;
every path of seqgen's side by side (fp32, int8 weights on the CPU) and the int8 path's quality on a
trained model (validation loss against fp32's on the same checkpoint, with --checkpoint). At batch 1 on the
CPU the step's LSTM products alone (the one (1, I + H) × (I + H, 4H) product per layer, int8 and fp32) are
timed in the same rounds, and each path is reported as a multiple of its products: what the step spends
around them.

    python scripts/bench_sample.py --output benchmarks/sample.json            # 2×512 on the CPU, 1 thread
    python scripts/bench_sample.py --device cuda --num-layers 3 --batch 512   # 3×512 on a GPU
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from seqgen.decode.sampling import LSTMStepper, Sampling, bare_linear, generate, resolve_sample_precision
from seqgen.device import cpu_name
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


def seqgen_tokens_per_second(model, batch: int, steps: int, device, precision: str = "fp32") -> float:
    prime = torch.zeros(batch, 1, dtype=torch.long, device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    tokens = generate(model, prime, steps + 1, Sampling(precision=precision), generator)
    next(tokens)  # set-up (the primer's forward pass; on CUDA the graph capture) is not per-token cost
    sync(device)
    start = time.perf_counter()
    for _ in tokens:
        pass
    sync(device)
    return batch * steps / (time.perf_counter() - start)


@torch.inference_mode()
def products_tokens_per_second(model, steps: int, precision: str) -> float:
    """The step's LSTM products alone, at batch 1: one (1, I + H) × (I + H, 4H) product per layer, with the
    weights the sampler uses (int8: PyTorch's dynamically quantized linear, as the step calls it)."""
    cell = LSTMStepper(model, int8=precision == "int8").cell
    inputs = [torch.randn(1, (layer.in_features if cell.int8 else weights.size(0)))
              for layer, weights in zip(cell.layers or [None] * cell.num_layers, cell.weights or [None] * cell.num_layers)]
    if cell.int8:
        products = [bare_linear(layer)[0] for layer in cell.layers]  # the kernel itself, as the step calls it
    else:
        products = [(lambda x, w=w, b=b: torch.addmm(b, x, w)) for w, b in zip(cell.weights, cell.biases)]
    for _ in range(5):
        for product, x in zip(products, inputs):
            product(x)
    start = time.perf_counter()
    for _ in range(steps):
        for product, x in zip(products, inputs):
            product(x)
    return steps / (time.perf_counter() - start)


def int8_quality(checkpoint: str, tokens: int) -> dict:
    """Validation loss of a trained model read one token at a time by the fp32 and the int8 step."""
    from seqgen.decode.sampling import LSTMStepper
    from seqgen.tasks.language_model import LanguageModel
    from seqgen.tasks.language_model.data import load_splits

    model = LanguageModel.load(checkpoint, "cpu")
    ids = torch.from_numpy(load_splits(model.train_config, model.payload["tokenizer"]).ids["val"][:tokens]).long()
    fp32 = LSTMStepper(model.model).score(ids)
    int8 = LSTMStepper(model.model, int8=True).score(ids)
    return {"checkpoint": checkpoint, "tokens": len(ids), "fp32_val_loss": fp32, "int8_val_loss": int8,
            "int8_relative_change": (int8 - fp32) / fp32}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--vocab-size", type=int, default=65)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds; the best of each is kept")
    parser.add_argument("--checkpoint", default=None,
                        help="a trained language model: score its validation split token by token, fp32 and int8")
    parser.add_argument("--quality-tokens", type=int, default=20000, help="validation tokens scored (--checkpoint)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--output", default="benchmarks/sample.json")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    load_at_start = os.getloadavg()
    torch.manual_seed(0)
    config = ModelConfig(num_tokens=args.vocab_size, embedding_dim=args.hidden_size, hidden_size=args.hidden_size,
                         num_layers=args.num_layers, dropout=0.0)
    model = LSTMLanguageModel(config).to(device).eval()
    results = {}
    for batch in (1, args.batch):
        steps = args.steps if batch == 1 else max(20, args.steps // 10)
        # fp32: the fused step up to FUSED_MAX_BATCH samples, nn.LSTM above; int8: the fused step at any batch
        paths = ["fp32"] + (["int8"] if resolve_sample_precision("int8", device) == "int8" else [])
        auto = resolve_sample_precision("auto", device)
        alone = [f"products_{path}" for path in paths] if batch == 1 and device.type == "cpu" else []
        rates = {"eager": [], **{path: [] for path in paths + alone}}
        for _ in range(args.repeats):  # alternate, so drifting machine load hits every path alike
            rates["eager"].append(eager_tokens_per_second(model, batch, steps, device))
            for path in paths:
                rates[path].append(seqgen_tokens_per_second(model, batch, steps, device, path))
            for name in alone:
                rates[name].append(products_tokens_per_second(model, steps, name.split("_")[1]))
        best = {name: max(values) for name, values in rates.items()}
        results[f"batch_{batch}"] = {
            "auto_is": auto, "eager_us_per_step": 1e6 * batch / best["eager"],
            **{f"seqgen_{path}_us_per_step": 1e6 * batch / best[path] for path in paths},
            **{f"seqgen_{path}_speedup": best[path] / best["eager"] for path in paths},
            "seqgen_us_per_step": 1e6 * batch / best[auto], "speedup": best[auto] / best["eager"],
            **{f"{name}_us": 1e6 / best[name] for name in alone},
            **{f"seqgen_{name.split('_')[1]}_vs_its_products": best[name] / best[name.split("_")[1]] for name in alone},
            "every_round_tokens_per_s": rates,
        }
        shown = ", ".join(f"seqgen {path} {1e6 * batch / best[path]:8.0f} µs/step (×{best[path] / best['eager']:.2f})"
                          for path in paths)
        print(f"batch {batch}: eager {1e6 * batch / best['eager']:8.0f} µs/step, {shown}; auto is {auto}")
        for name in alone:
            path = name.split("_")[1]
            print(f"  {path} products alone {1e6 / best[name]:6.0f} µs: the {path} step is ×"
                  f"{best[name] / best[path]:.2f} its products")
    if args.checkpoint:
        results["quality"] = int8_quality(args.checkpoint, args.quality_tokens)
        print(f"quality on {args.checkpoint}: {results['quality']}")
    report = {
        "benchmark": "sampling speed (BENCHMARKS.md §3)",
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(),
                    "device": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
                    "threads": torch.get_num_threads(), "torch": torch.__version__,
                    "load_average_at_start": load_at_start, "load_average_at_end": os.getloadavg()},
        "model": {"hidden_size": args.hidden_size, "num_layers": args.num_layers, "vocab_size": args.vocab_size},
        "results": results,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
