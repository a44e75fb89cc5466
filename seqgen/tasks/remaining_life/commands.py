"""`seqgen predict`: the remaining steps of every unit of a log file, with a band, as a CSV."""

from __future__ import annotations

from pathlib import Path

import click

from seqgen.files import write_atomically
from seqgen.options import options_of, threads_option
from seqgen.tasks.remaining_life.config import PredictConfig


@click.command("predict")
@click.argument("checkpoint", type=click.Path())
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write the CSV here instead of stdout.")
@threads_option
def predict_command(checkpoint, data, output, every_step, level, threads):
    """Estimate the remaining steps of every unit in DATA (logs laid out as the training file) after its last step,
    or after every step: a CSV of unit, step, remaining steps and the band's lower and upper bounds."""
    from seqgen.tasks.remaining_life import RemainingLife

    PredictConfig(every_step=every_step, level=level)  # a value out of range is one line before the model is read
    model = RemainingLife.load(checkpoint, threads=threads)
    table = model.predict(data, every_step=every_step, level=level)
    rows = ["unit,step,remaining,lower,upper"] + [
        f"{r['unit']},{r['step']:g},{r['remaining']:.2f},{r['lower']:.2f},{r['upper']:.2f}" for r in table]
    if output is None:
        click.echo("\n".join(rows))
        return
    write_atomically(Path(output), lambda f: f.write("\n".join(rows) + "\n"), "w")
    click.echo(f"{len(table)} estimates: {output}", err=True)


predict_command.params[2:2] = options_of(PredictConfig)  # after CHECKPOINT and DATA


COMMANDS = (predict_command,)
