"""What the command line shows of translation: after training, in `seqgen evaluate` and `seqgen inspect`, and
the command it adds (`seqgen translate`)."""

from __future__ import annotations

import click

from seqgen.errors import SeqgenError
from seqgen.tasks.translate.commands import COMMANDS  # noqa: F401  (seqgen translate)

TASK_HELP = "translate (pairs)"  # in --task's help
SAMPLE_LENGTH_HELP = "translate: test examples shown"  # in --sample-length's help
EVALUATE_HELP = "Translate: exact match, BLEU and chrF, greedy and beam."
INSPECT_READS = "translate reads a sentence (--text)"
INSPECT_TEXT = "translate: a sentence"  # what --text holds for this task
INSPECT_INPUT_OPTIONS: list = []
INSPECT_MODEL_OPTIONS = [
    click.Option(["--part", "part"], type=click.Choice(["encoder", "decoder"]), default="encoder", show_default=True,
                 help="the encoder reading the sentence, or the decoder writing its translation."),
]


def inspect_input(model, text, options: dict, save_path):
    """The inspection of the sentence by the encoder or the decoder (--part); nothing written yet."""
    if text is None:
        raise SeqgenError("give the sentence to translate and inspect with --text")
    return model.inspect(text.strip())[options["part"]], None


def report_training(result) -> None:
    last = next((h for h in reversed(result.history) if "val_loss" in h), None)
    if last is not None:
        click.echo(f"Best validation loss {result.best_val_loss:.4f} nats/token after {result.step} steps; "
                   f"validation exact match (greedy) {100 * last['val_exact_match']:.2f}% at the end.", err=True)
    click.echo(f"Checkpoints: {result.best_path}  {result.latest_path}", err=True)


def show_sample(result) -> None:
    """The test pairs the best model translated after training (seqgen.api.train's `sample`)."""
    if not result.sample:
        return
    click.echo(f"Test examples (greedy), from: seqgen translate {result.best_path} TEXT", err=True)
    for example in result.sample:
        expected = "" if example["output"] == example["expected"] else f"\t(expected {example['expected']})"
        click.echo(f"{example['source']}\t{example['output'].marked()}{expected}")


def print_evaluation(result: dict) -> None:
    click.echo(f"{result['source']}: {result['pairs']:,} pairs")
    for name in [k for k in result if k == "greedy" or k.startswith("beam")]:
        r = result[name]
        click.echo(f"{name:<8} exact match {r['exact_match']:6.2f}%   BLEU {r['bleu']:6.2f}   chrF {r['chrf']:6.2f}"
                   f"   ({r['seconds']:.1f} s)")


# seqgen serve: the options its train form shows first, and what its page offers for a loaded model
STUDIO_TRAIN = ("corpus", "train_pairs", "hidden_size", "embedding_dim", "max_steps", "max_time", "batch_size",
                "eval_interval", "log_interval")


def studio_form(model) -> dict:
    """A sentence to translate, greedy or with a beam; the answer comes with its attention picture."""
    from seqgen.options import form_fields
    from seqgen.tasks.translate.config import DecodeConfig

    return {"view": "translation", "title": "Translate", "fields": [
        {"name": "text", "label": "sentence", "kind": "text", "default": "", "help": "The sentence to translate."},
        *form_fields(DecodeConfig, ("beam_size",), beam_size=1)]}


def studio_try(model, values: dict, folder) -> dict:
    """The translation, and the attention weights (target × source pieces) of the model writing it."""
    from seqgen.config import check

    text = check("the sentence", values.get("text"), str)
    if not text.strip():
        raise SeqgenError("the sentence is empty; type one to translate")
    output = model.translate([text.strip()], beam_size=values.get("beam_size", 1))[0]
    source, target, weights = model.attention(text.strip(), str(output))
    return {"translation": str(output), "problem": output.problem, "source": source, "target": target,
            "weights": weights.round(4).tolist()}
