"""Four-voice chorales: statistics of generated chorales beside the corpus's own (the baseline is Bach).

Takes a checkpoint trained on the built-in `chorales` corpus (or trains one with --max-steps), scores
the test split, generates pieces and sets beside the test split's and the whole corpus's: voices, the
range of each voice, the share of notes in the key signature's scale, and parallel fifths and octaves
between voices per 100 beats (quarter notes). Also how many generated pieces have exactly four voices,
and the share of each voice's notes inside the range that voice has anywhere in the corpus. Writes JSON
and the first four pieces as MIDI.

    seqgen train --corpus chorales --max-steps 2000 --name chorales
    python scripts/bench_chorales.py --checkpoint checkpoints/chorales --output benchmarks/chorales.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def in_voice_range(generated: list[dict], corpus: list[dict]) -> dict:
    """Per part: the share of generated notes between the lowest and highest pitch that part has in the corpus."""
    limits: dict[int, list[int]] = {}
    for piece in corpus:
        for _, _, part, pitch, _ in piece["notes"]:
            low, high = limits.get(part, [pitch, pitch])
            limits[part] = [min(low, pitch), max(high, pitch)]
    inside: dict[int, list[bool]] = {}
    for piece in generated:
        for _, _, part, pitch, _ in piece["notes"]:
            low, high = limits.get(part, [1, 0])  # a part the corpus lacks is out of range
            inside.setdefault(part, []).append(low <= pitch <= high)
    return {str(part): {"corpus_range": limits.get(part), "notes": len(flags), "share_inside": sum(flags) / len(flags)}
            for part, flags in sorted(inside.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a chorales checkpoint or run folder (default: train one)")
    parser.add_argument("--max-steps", type=int, default=2000, help="steps when training here")
    parser.add_argument("--num-generated", type=int, default=16)
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", default=str(ROOT / "benchmarks" / "chorales-samples"))
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "chorales.json"))
    args = parser.parse_args()

    import seqgen
    from seqgen.music.scores import write_piece
    from seqgen.music.stats import compare, summarise
    from seqgen.tasks.language_model.data import load_splits

    with tempfile.TemporaryDirectory() as out:
        checkpoint = args.checkpoint or seqgen.train("language-model", corpus="chorales", max_steps=args.max_steps,
                                                     output_dir=out, name="chorales").best_path
        lm = seqgen.load(checkpoint, "cpu")
    config = lm.train_config
    if config.corpus != "chorales":
        sys.exit(f"error: {checkpoint} was trained on {config.corpus!r}, not the chorales corpus")
    splits = load_splits(config, lm.payload["tokenizer"], progress=False)
    tokenizer = lm.tokenizer
    parts = {name: tokenizer.decode_pieces(ids) for name, ids in splits.ids.items()}
    everything = parts["train"] + parts["val"] + parts["test"]
    generated = lm.generate(num_samples=args.num_generated, bars=args.bars, temperature=args.temperature,
                            seed=args.seed, length=300 * args.bars)
    figures = lm.evaluate(split="test", num_generated=0)
    Path(args.samples).mkdir(parents=True, exist_ok=True)
    midi = [os.path.relpath(write_piece(piece, Path(args.samples) / f"chorale-{n}.mid", "midi", tokenizer.grid), ROOT)
            for n, piece in enumerate(generated[:4], 1) if piece["notes"]]
    voices = [len({n[2] for n in piece["notes"]}) for piece in generated]
    report = {
        "benchmark": "four-voice chorales: generated against the corpus",
        "command": "python scripts/bench_chorales.py " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "checkpoint": {"steps": lm.payload.get("step"), "model_config": lm.payload["model_config"],
                       "train_config": {k: v for k, v in lm.payload["train_config"].items() if k not in ("output_dir", "name")}},
        "corpus": {"pieces": {name: len(pieces) for name, pieces in parts.items()},
                   "skipped": [list(item) for item in splits.skipped],
                   "tokens": {name: int(len(ids)) for name, ids in splits.ids.items()}},
        "test_loss": {"nats_per_token": figures["loss"], "nats_per_quarter_note": figures.get("loss_per_quarter")},
        "settings": {"pieces": args.num_generated, "bars": args.bars, "temperature": args.temperature, "seed": args.seed},
        "generated_with_four_voices": sum(v == 4 for v in voices),
        "voices_per_generated_piece": voices,
        "generated_notes_in_voice_range": in_voice_range(generated, everything),
        "against_test_split": compare(generated, parts["test"], tokenizer.grid),
        "whole_corpus": summarise(everything, tokenizer.grid),
        "midi": midi,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    gen, test = report["against_test_split"]["generated"], report["against_test_split"]["corpus"]
    print(f"test loss {figures['loss']:.3f} nats/token; {report['generated_with_four_voices']} of {len(voices)} "
          f"generated pieces have four voices")
    for name in ("parts", "in_key_share", "parallel_fifths_per_100_beats", "parallel_octaves_per_100_beats"):
        print(f"{name:32s} generated {gen[name]:6.3f}  test {test[name]:6.3f}  corpus {report['whole_corpus'][name]:6.3f}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
