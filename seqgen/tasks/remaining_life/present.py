"""What the command line shows of remaining-life models: after training, in `seqgen evaluate` and `seqgen inspect`,
and the command it adds (`seqgen predict`)."""

from __future__ import annotations

import click

from seqgen.options import member_option
from seqgen.tasks.remaining_life.commands import COMMANDS  # noqa: F401  (seqgen predict)

TASK_HELP = "remaining-life (steps left before a unit fails)"  # in --task's help
EVALUATE_HELP = "Remaining life: RMSE and PHM08 score at each test unit's last step, beside baselines."
INSPECT_READS = "a remaining-life model reads one unit's history (a training unit, or --history FILE)"
INSPECT_TEXT = None  # reads no --text
INSPECT_INPUT_OPTIONS = [
    click.Option(["--history"], type=click.Path(dir_okay=False), default=None,
                 help="a log file laid out as the training file [default: the training units the checkpoint keeps]."),
    click.Option(["--history-unit"], type=int, default=None,
                 help="the number of the unit to read [default: the first]."),
]
INSPECT_MODEL_OPTIONS = [member_option()]


def inspect_input(model, text, options: dict, save_path):
    """The inspection of one unit's history (--history, --history-unit) by one network of the ensemble (--member)."""
    return model.inspect(options["history"], unit=options["history_unit"], member=options["member"]), None


def report_training(result) -> None:
    if result.stop_reason == "interrupted":
        from seqgen.training.ensemble import interrupted_line

        click.echo(interrupted_line(result), err=True)
        return
    from seqgen.tasks.remaining_life.evaluate import format_report

    if result.dropped:
        click.echo("Columns left out: " + ", ".join(f"{name} ({why})" for name, why in result.dropped.items()) + ".",
                   err=True)
    click.echo(f"The networks read {len(result.features)} columns: {', '.join(result.features)}.", err=True)
    how = "stopped early (--patience)" if result.stopped_early else "all epochs"
    val = f"; held-out units' RMSE {result.val_rmse:.2f} steps" if result.val_rmse is not None else ""
    click.echo(f"Trained {result.members_done} networks, at most {result.epochs} epochs, {how}{val}.", err=True)
    click.echo(f"Checkpoints: {result.best_path}", err=True)
    if result.report is not None:
        click.echo(f"Test set {result.test}:", err=True)
        click.echo(format_report(result.report))
        click.echo(f"Test plot: {result.run_dir / 'test.png'}", err=True)


def print_evaluation(result: dict) -> None:
    from seqgen.tasks.remaining_life.evaluate import format_report

    click.echo(f"{result['source']} (true remaining steps: {result['targets']}):")
    click.echo(format_report(result))
