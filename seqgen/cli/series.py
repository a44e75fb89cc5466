"""Time series: training forecasters and classifiers, `forecast`, `classify`, and their evaluation."""

from __future__ import annotations

import dataclasses
import json

import click

from seqgen.cli.base import cli, explicit_options
from seqgen.config import ClassifyConfig, ForecastConfig
from seqgen.errors import SeqgenError


def train_series_task(ctx: click.Context, task: str, resume, quiet, options) -> None:
    """--task forecast / classify: shared flags take the task's own defaults unless typed."""
    cls = ForecastConfig if task == "forecast" else ClassifyConfig
    if resume is not None:
        raise click.UsageError(f"--resume does not apply to --task {task}: its runs take seconds, start a new one")
    given = explicit_options(ctx, options)
    unused = sorted(set(given) - {f.name for f in dataclasses.fields(cls)})
    if unused:
        raise click.UsageError(", ".join("--" + n.replace("_", "-") for n in unused) + f" do(es) not apply to --task {task}")
    config = cls(**given)
    if task == "forecast":
        from seqgen.forecast import train_forecaster

        run = train_forecaster(config, progress=not quiet)
        click.echo(f"Trained on {run.train_points} points; final training loss {run.train_loss:.4f}.", err=True)
        click.echo(f"Checkpoints: {run.best_path}  (forecast: seqgen forecast {run.best_path} --plot forecast.png)", err=True)
        return
    from seqgen.classify import format_report, train_classifier

    run = train_classifier(config, progress=not quiet)
    how = "stopped early (--patience)" if run.stopped_early else "all epochs"
    val = f"; best validation loss {run.best_val_loss:.4f}" if run.best_val_loss is not None else ""
    click.echo(f"Trained {run.epochs} epochs, {how}{val}.", err=True)
    click.echo(f"Checkpoints: {run.best_path}", err=True)
    if run.report is not None:
        click.echo(f"Test set {config.test}:", err=True)
        click.echo(format_report(run.report))
        click.echo(f"Confusion plot: {run.run_dir / 'confusion.png'}", err=True)


@cli.command("forecast")
@click.argument("checkpoint", type=click.Path())
@click.option("--horizon", type=click.IntRange(min=1), default=None,
              help="Steps to forecast [default: the model's horizon; at most the number of points it forecasts from].")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Draw history, forecast, band and a zoom into this PNG.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Also write the forecast to this CSV file.")
@click.option("--from-end/--from-training-end", default=True, show_default=True,
              help="Forecast after the whole series, or after the points the model was trained on (to compare with --holdout).")
def forecast_command(checkpoint, horizon, plot, csv_path, from_end):
    """Forecast the series a forecast checkpoint was trained on, with a 90 % band; a table on stdout."""
    import numpy as np

    from seqgen.evaluate_forecast import plot_forecast
    from seqgen.forecast import check_forecast, future_dates, load_forecaster, max_steps, predict

    if plot is not None and not plot.lower().endswith((".png", ".svg", ".pdf")):
        raise click.UsageError("--plot needs a file name ending in .png, .svg or .pdf")
    payload = load_forecaster(checkpoint)
    values = np.asarray(payload["series"]["values"], dtype=np.float64)
    n = len(values) if from_end else payload["train_points"]
    steps = horizon or payload["preprocessing"]["horizon"]
    most = max_steps(n)
    if steps > most:
        raise click.UsageError(f"--horizon {steps} is too long: at most {most} steps (as many as the {n} points "
                               f"forecast from), beyond which the forecast rests on its own output; lower --horizon")
    result = predict(payload, values[:n], steps)
    check_forecast(result, values[:n])
    dates = payload["series"]["dates"]
    labels = future_dates(dates[:n] if dates else None, steps)
    rows = ["step,date,forecast,lower,upper"] + [
        f"{k + 1},{labels[k]},{result['forecast'][k]:.4f},{result['lower'][k]:.4f},{result['upper'][k]:.4f}" for k in range(steps)]
    if csv_path is not None:
        _write_rows(csv_path, rows)
        click.echo(f"Forecast CSV: {csv_path}", err=True)
    if plot is not None:
        actual = values[n:n + steps] if n < len(values) else None
        click.echo(f"Forecast plot: {plot_forecast(payload, values[:n], result, plot, actual)}", err=True)
    click.echo("\n".join(rows))


@cli.command("classify")
@click.argument("checkpoint", type=click.Path())
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write the predictions CSV here instead of stdout.")
@click.option("--no-labels", is_flag=True, help="DATA has no label column: every value on a line belongs to the sequence.")
def classify_command(checkpoint, data, output, no_labels):
    """Predict the class of every sequence in DATA, laid out as the training file (a label, if any, is
    copied to the output): a CSV of row, label, predicted class and one probability per class."""
    from seqgen.classify import load_classifier, predict_proba, read_like_training

    model, payload = load_classifier(checkpoint)
    labels, sequences = read_like_training(data, payload, labeled=not no_labels)
    probabilities = predict_proba(model, payload["scaling"], sequences)
    classes = payload["classes"]
    rows = ["row,label,predicted," + ",".join(f"p_{c}" for c in classes)]
    for index, (label, p) in enumerate(zip(labels, probabilities), start=1):
        rows.append(f"{index},{label},{classes[int(p.argmax())]}," + ",".join(f"{x:.4f}" for x in p))
    if output is None:
        click.echo("\n".join(rows))
        return
    _write_rows(output, rows)
    click.echo(f"{len(sequences)} predictions: {output}", err=True)


def _write_rows(path: str, rows: list) -> None:
    from pathlib import Path

    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text("\n".join(rows) + "\n")
    except OSError as error:
        raise SeqgenError(f"cannot write {path}: {error.strerror or error}") from None


def evaluate_series_task(checkpoint, task, holdout, backtest, origins, test_file, device, as_json) -> None:
    if task == "forecast":
        from seqgen.evaluate_forecast import evaluate_forecaster, format_table
        from seqgen.forecast import load_forecaster

        result = evaluate_forecaster(load_forecaster(checkpoint), holdout, backtest, origins,
                                     "cpu" if device == "auto" else device)
        if as_json:
            click.echo(json.dumps(result, indent=2))
            return
        where = ", ".join(result["first_forecast"])
        how = "retrained on the points before each origin" if result["retrained"] else "the checkpoint's own networks"
        click.echo(f"{result['series']}: {result['holdout']} held-out points forecast in one go from {result['origins']} "
                   f"origin(s) (first forecast step {where}); LSTM: {how}")
        click.echo(format_table(result))
        return
    from seqgen.classify import classification_report, format_report, load_classifier, predict_proba, read_like_training

    model, payload = load_classifier(checkpoint)
    test_file = test_file or payload["train_config"].get("test")
    if not test_file:
        raise SeqgenError("this classifier was trained without --test; give a labelled file with --test FILE")
    labels, sequences = read_like_training(test_file, payload)
    report = classification_report(labels, predict_proba(model, payload["scaling"], sequences), payload["classes"])
    click.echo(json.dumps(report, indent=2) if as_json else f"{test_file}: " + format_report(report))
