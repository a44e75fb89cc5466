"""`seqgen forecast`: the series a forecast checkpoint learned, forecast with a 90 % band; a table, a CSV, a plot."""

from __future__ import annotations

from pathlib import Path

import click

from seqgen.errors import SeqgenError
from seqgen.files import together, write_atomically
from seqgen.options import check_plot_path, options_of, threads_option
from seqgen.tasks.forecast.config import PredictConfig


@click.command("forecast")
@click.argument("checkpoint", type=click.Path())
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Draw history, forecast, band and a zoom into this PNG.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Also write the forecast to this CSV file.")
@threads_option
def forecast_command(checkpoint, plot, csv_path, horizon, from_end, threads):
    """Forecast the series a forecast checkpoint was trained on, with a 90 % band; a table on stdout."""
    from seqgen.tasks.forecast import Forecaster

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
            write_atomically(Path(csv_path), lambda f: f.write("\n".join(rows) + "\n"), "w")
        drawn = forecaster.plot(plot, from_end=from_end, table=table) if plot is not None else None
    if csv_path is not None:
        click.echo(f"Forecast CSV: {csv_path}", err=True)
    if drawn is not None:
        click.echo(f"Forecast plot: {drawn}", err=True)
    click.echo("\n".join(rows))


forecast_command.params[1:1] = options_of(PredictConfig)  # after CHECKPOINT


COMMANDS = (forecast_command,)
