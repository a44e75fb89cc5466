"""Benchmark §4, toy translation: dates → ISO exact match, and Tatoeba English → Portuguese BLEU / chrF.

    python scripts/bench_translate.py --output benchmarks/translate.json
    python scripts/bench_translate.py --part tatoeba --tokenizers bpe --tatoeba-minutes 10

Each part trains with the library's own `seqgen.tasks.translate.train` (what `seqgen train --task translate`
runs), then scores the best checkpoint on the held-out split with greedy decoding and beam search.
Wall-clock seconds include data generation, tokenizer fitting and validation; the training budget
(--max-time) counts optimizer steps only. On a shared CPU these timings are pessimistic.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from seqgen.tasks.translate import TranslateConfig, Translator
from seqgen.tasks.translate.data import checkpoint_splits
from seqgen.tasks.translate.evaluate import evaluate_translator
from seqgen.tasks.translate.train import train

TATOEBA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tatoeba-eng-por" / "test.txt"


def run_task(name: str, config: TranslateConfig, beam_size: int) -> dict:
    start = time.perf_counter()
    result = train(config, progress=sys.stderr.isatty())
    wall = time.perf_counter() - start
    translator = Translator.load(result.best_path, "cpu")
    test = checkpoint_splits(translator.payload)["test"]
    figures = evaluate_translator(translator, test, (1, beam_size), length_penalty=1.0)
    history = [h for h in result.history if "val_loss" in h]
    print(f"{name}: greedy {figures['greedy']['exact_match']:.2f}% exact, BLEU {figures['greedy']['bleu']:.2f}, "
          f"chrF {figures['greedy']['chrf']:.2f}; beam {beam_size} {figures[f'beam{beam_size}']['exact_match']:.2f}% "
          f"exact, BLEU {figures[f'beam{beam_size}']['bleu']:.2f}, chrF {figures[f'beam{beam_size}']['chrf']:.2f}; "
          f"{result.step} steps, {wall:.0f} s wall", file=sys.stderr)
    return {
        "config": dict(vars(config)),
        "steps": result.step,
        "train_seconds": history[-1]["elapsed"] if history else None,
        "wall_seconds": round(wall, 1),
        "best_val_loss": result.best_val_loss,
        "val_history": history,
        "checkpoint": str(result.best_path),
        "test": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("dates", "tatoeba", "all"), default="all")
    parser.add_argument("--output", default="benchmarks/translate.json")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads; 1 ran several times faster than 2 on the shared 2-core machine")
    parser.add_argument("--dates-minutes", type=float, default=4.0)
    parser.add_argument("--tatoeba-minutes", type=float, default=10.0)
    parser.add_argument("--tokenizers", default="bpe,char", help="Tatoeba runs, comma-separated: char, bpe, unigram")
    parser.add_argument("--vocab-size", type=int, default=2000, help="sentencepiece vocabulary of the Tatoeba runs")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--runs-dir", default="benchmarks/translate-runs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # seqgen's thread policy keeps to it too

    out = Path(args.output)
    report = json.loads(out.read_text()) if out.exists() else {}
    report["machine"] = {"cpu_count": os.cpu_count(), "threads": args.threads, "torch": torch.__version__,
                         "platform": platform.platform(), "load_average_at_start": os.getloadavg()}
    if args.part in ("dates", "all"):
        config = TranslateConfig(corpus="dates", max_time=args.dates_minutes, device="cpu",
                                 output_dir=args.runs_dir, name="dates")
        key = "dates" if args.dates_minutes == 4.0 else f"dates_{args.dates_minutes:g}min"
        config = dataclasses.replace(config, name=key)
        report[key] = run_task(key, config, args.beam_size)
    if args.part in ("tatoeba", "all"):
        for tokenizer in args.tokenizers.split(","):
            key = f"tatoeba_{tokenizer}"
            key += f"_v{args.vocab_size}" if args.vocab_size != 2000 and tokenizer != "char" else ""
            key += f"_{args.tatoeba_minutes:g}min" if args.tatoeba_minutes != 10.0 else ""
            vocab = {} if tokenizer == "char" else {"vocab_size": args.vocab_size}  # a char vocabulary is its characters
            config = TranslateConfig(corpus=str(TATOEBA), tokenizer=tokenizer, **vocab, shared_vocab=True,
                                     embedding_dim=128, hidden_size=256, dropout=0.3, batch_size=64, lr=2e-3,
                                     eval_interval=250, max_time=args.tatoeba_minutes, device="cpu",
                                     output_dir=args.runs_dir, name=key)
            report[key] = run_task(key, config, args.beam_size)
    report["machine"]["load_average_at_end"] = os.getloadavg()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
