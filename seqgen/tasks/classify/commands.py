"""`seqgen classify`: the class of every sequence in a file, as a CSV of predictions and probabilities."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click

from seqgen.files import write_atomically
from seqgen.options import threads_option


@click.command("classify")
@click.argument("checkpoint", type=click.Path())
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write the predictions CSV here instead of stdout.")
@click.option("--no-labels", is_flag=True, help="DATA has no label column: every value on a line belongs to the sequence.")
@threads_option
def classify_command(checkpoint, data, output, no_labels, threads):
    """Predict the class of every sequence in DATA, laid out as the training file (a label, if any, is
    copied to the output): a CSV of row, label, predicted class and one probability per class."""
    from seqgen.tasks.classify import Classifier

    classifier = Classifier.load(checkpoint, threads=threads)
    predictions = classifier.classify(data, labeled=not no_labels)
    rows = [_csv_row(["row", "label", "predicted"] + [f"p_{c}" for c in classifier.classes])]
    for p in predictions:
        rows.append(_csv_row([p["row"], p["label"], p["predicted"]] + [f"{x:.4f}" for x in p["probabilities"].values()]))
    if output is None:
        click.echo("\n".join(rows))
        return
    write_atomically(Path(output), lambda f: f.write("\n".join(rows) + "\n"), "w")
    click.echo(f"{len(predictions)} predictions: {output}", err=True)


def _csv_row(cells: list) -> str:
    """One CSV line, a label holding a comma or a quote quoted (a .ts label may hold either)."""
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow(cells)
    return line.getvalue()


COMMANDS = (classify_command,)
