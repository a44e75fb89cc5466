"""What the command line shows of classification: after training, in `seqgen evaluate` and `seqgen inspect`,
and the command it adds (`seqgen classify`)."""

from __future__ import annotations

import click

from seqgen.errors import SeqgenError
from seqgen.options import member_option
from seqgen.tasks.classify.commands import COMMANDS  # noqa: F401  (seqgen classify)

TASK_HELP = "classify (sequences)"  # in --task's help
EVALUATE_HELP = "Classify: accuracy, macro-F1, confusion matrix."
INSPECT_READS = "classify reads one sequence of numbers (--text)"
INSPECT_TEXT = "classify: numbers"  # what --text holds for this task
INSPECT_INPUT_OPTIONS: list = []
INSPECT_MODEL_OPTIONS = [member_option()]


def inspect_input(model, text, options: dict, save_path):
    """The inspection of one sequence (--text, numbers) by one network of the ensemble (--member)."""
    return model.inspect(_numbers(text), member=options["member"]), None


def report_training(result) -> None:
    if result.stop_reason == "interrupted":
        from seqgen.training.ensemble import interrupted_line

        click.echo(interrupted_line(result), err=True)
        return
    from seqgen.tasks.classify.evaluate import format_report

    how = "stopped early (--patience)" if result.stopped_early else "all epochs"
    val = f"; best validation loss {result.best_val_loss:.4f}" if result.best_val_loss is not None else ""
    click.echo(f"Trained {result.epochs} epochs, {how}{val}.", err=True)
    click.echo(f"Checkpoints: {result.best_path}", err=True)
    if result.report is not None:
        click.echo(f"Test set {result.test}:", err=True)
        click.echo(format_report(result.report))
        click.echo(f"Confusion plot: {result.run_dir / 'confusion.png'}", err=True)


def print_evaluation(result: dict) -> None:
    from seqgen.tasks.classify.evaluate import format_report

    click.echo(f"{result['source']}: " + format_report(result))


def _numbers(text) -> list:
    """classify: --text "0.1 0.5 0.9" (spaces or commas) as one sequence of numbers."""
    import math

    if text is None or not text.replace(",", " ").split():
        raise SeqgenError("give the sequence to inspect with --text, e.g. --text \"0.1 0.5 0.9\"")
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError as error:
        raise SeqgenError(f"--text for a classify model holds numbers separated by spaces or commas: {error}") from None
    if not all(math.isfinite(v) for v in values):
        raise SeqgenError("--text holds a value that is not a finite number")
    return values


# seqgen serve: the options its train form shows first, and what its page offers for a loaded model
STUDIO_TRAIN = ("corpus", "test", "label_column", "ensemble", "epochs", "hidden_size", "conv_channels")
STUDIO_ROWS = 1000  # the most rows of a classified file the page shows


def studio_form(model) -> dict:
    """A file laid out as the training file, classified with each class's probability."""
    return {"view": "probabilities", "title": "Classify a file", "fields": [
        {"name": "file", "label": "file", "kind": "upload", "default": None,
         "help": "A file laid out as the training file (its lines may hold only values: untick labels)."},
        {"name": "labeled", "label": "labels", "kind": "checkbox", "default": True,
         "help": "The file's lines start with a label, as in training."}]}


def studio_try(model, values: dict, folder) -> dict:
    """One row per sequence: its label, the predicted class and every class's probability."""
    if not values.get("file"):
        raise SeqgenError("upload a file to classify")
    rows = model.classify(values["file"], labeled=values.get("labeled", True))
    return {"classes": list(model.classes), "rows": rows[:STUDIO_ROWS], "total": len(rows)}


def studio_curves(run: dict) -> dict:
    """The loss curves of the ensemble's first network, per epoch."""
    history = (run.get("training") or [{}])[0].get("history") or []
    return {"x": "epoch", "training": [[h["step"], h["train_loss"]] for h in history if h.get("train_loss") is not None],
            "validation": [[h["step"], h["val_loss"]] for h in history if h.get("val_loss") is not None]}
