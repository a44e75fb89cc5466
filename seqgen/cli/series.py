"""Time series: `seqgen forecast`, `seqgen classify`, and what `seqgen train --task forecast / classify`
and `seqgen evaluate` print for them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click

from seqgen.cli.base import cli, options_of, threads_option
from seqgen.cli.evaluate import PRINTERS
from seqgen.errors import SeqgenError
from seqgen.files import together, write_atomically
from seqgen.tasks.forecast.config import PredictConfig


def report_forecast_training(result) -> None:
    if result.stop_reason == "interrupted":
        click.echo(f"Trained {result.members_done} of {result.ensemble} networks; the full state is in "
                   f"{result.latest_path}.", err=True)
        return
    click.echo(f"Trained on {result.train_points} points; final training loss {result.train_loss:.4f}.", err=True)
    click.echo(f"Checkpoints: {result.best_path}  (forecast: seqgen forecast {result.best_path} --plot forecast.png)",
               err=True)


def report_classify_training(result) -> None:
    if result.stop_reason == "interrupted":
        click.echo(f"Trained {result.members_done} of {result.ensemble} networks; the full state is in "
                   f"{result.latest_path}.", err=True)
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


def print_forecast_evaluation(result: dict) -> None:
    from seqgen.tasks.forecast.evaluate import format_table

    where = ", ".join(result["first_forecast"])
    how = "retrained on the points before each origin" if result["retrained"] else "the checkpoint's own networks"
    click.echo(f"{result['series']}: {result['holdout']} held-out points forecast in one go from {result['origins']} "
               f"origin(s) (first forecast step {where}); LSTM: {how}")
    click.echo(format_table(result))


def print_classify_evaluation(result: dict) -> None:
    from seqgen.tasks.classify.evaluate import format_report

    click.echo(f"{result['source']}: " + format_report(result))


PRINTERS.update({"forecast": print_forecast_evaluation, "classify": print_classify_evaluation})


@cli.command("forecast")
@click.argument("checkpoint", type=click.Path())
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Draw history, forecast, band and a zoom into this PNG.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Also write the forecast to this CSV file.")
@threads_option
def forecast_command(checkpoint, plot, csv_path, horizon, from_end, threads):
    """Forecast the series a forecast checkpoint was trained on, with a 90 % band; a table on stdout."""
    from seqgen.tasks.forecast import Forecaster
    from seqgen.tasks.forecast.forecast import check_plot_path

    PredictConfig(horizon=horizon, from_end=from_end)  # a value out of range is one line before the model is read
    if plot is not None:
        try:
            check_plot_path(plot)
        except SeqgenError as error:
            raise click.UsageError(str(error)) from None
    forecaster = Forecaster.load(checkpoint, threads=threads)
    table = forecaster.forecast(horizon, from_end)
    rows = ["step,date,forecast,lower,upper"] + [
        f"{r['step']},{r['date']},{r['forecast']:.4f},{r['lower']:.4f},{r['upper']:.4f}" for r in table]
    # The CSV and the plot are put in place together, once both are written: a failure of either is one line
    # and leaves no file changed.
    with together():
        if csv_path is not None:
            _write_rows(csv_path, rows)
        drawn = forecaster.plot(plot, from_end=from_end, table=table) if plot is not None else None
    if csv_path is not None:
        click.echo(f"Forecast CSV: {csv_path}", err=True)
    if drawn is not None:
        click.echo(f"Forecast plot: {drawn}", err=True)
    click.echo("\n".join(rows))


forecast_command.params[1:1] = options_of(PredictConfig)  # after CHECKPOINT


@cli.command("classify")
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
    _write_rows(output, rows)
    click.echo(f"{len(predictions)} predictions: {output}", err=True)


def _csv_row(cells: list) -> str:
    """One CSV line, a label holding a comma or a quote quoted (a .ts label may hold either)."""
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow(cells)
    return line.getvalue()


def _write_rows(path: str, rows: list) -> None:
    write_atomically(Path(path), lambda f: f.write("\n".join(rows) + "\n"), "w")
