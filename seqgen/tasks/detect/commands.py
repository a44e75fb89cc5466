"""`seqgen detect`: score every record of a series for anomalies, with an LSTM learning as it reads or with a
trained forecaster; a CSV (timestamp,value,anomaly_score,anomaly) and a plot."""

from __future__ import annotations

from pathlib import Path

import click

from seqgen.errors import SeqgenError
from seqgen.files import together, write_atomically
from seqgen.options import check_plot_path, explicit_options, options_of, threads_option
from seqgen.tasks.detect.config import ONLINE_OPTIONS, DetectConfig


@click.command("detect")
@click.argument("source", type=click.Path())
@click.argument("series", type=click.Path(), required=False)
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write timestamp,value,anomaly_score,anomaly to this CSV [default: to stdout].")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Draw the series, flagged records, labelled windows and the score into this PNG, SVG or PDF.")
@click.option("--labels", type=click.Path(dir_okay=False), default=None,
              help="Shade these anomaly windows on the plot: a JSON list of [start, end] timestamps, or NAB's "
                   "combined_windows.json.")
@threads_option
@click.pass_context
def detect_command(ctx, source, series, output, plot, labels, threads, **options):
    """Score each record of SERIES.csv in time order (an LSTM learns it as it reads), or of a new series with a
    forecaster trained on normal history: seqgen detect CHECKPOINT SERIES.csv."""
    from seqgen.tasks.detect.data import read_stream, read_windows
    from seqgen.tasks.detect.detect import detect, plot_detection

    config = DetectConfig(**options)
    if labels is not None and plot is None:
        raise click.UsageError("--labels only shades windows on the plot; add --plot FILE.png")
    if plot is not None:
        try:
            check_plot_path(plot)
        except SeqgenError as error:
            raise click.UsageError(str(error)) from None
    forecaster = None
    if series is not None:
        typed = [f"--{name.replace('_', '-')}" for name in explicit_options(ctx, options) if name in ONLINE_OPTIONS]
        if typed:
            raise click.UsageError(f"{', '.join(typed)} {'does' if len(typed) == 1 else 'do'} not apply with a "
                                   "checkpoint: they shape the LSTM that learns as it reads")
        from seqgen.tasks import get_task

        forecaster = get_task("forecast").load(source, threads=threads)
    path = series if series is not None else source
    stamps, values = read_stream(path, config.column, config.allow_gaps)
    windows = read_windows(labels, path, stamps) if labels is not None else None
    detection = detect(values, forecaster, stamps, threads=threads or 1, config=config)
    rows = detection.rows()
    with together():
        if output is not None:
            write_atomically(Path(output), lambda f: f.write("\n".join(rows) + "\n"), "w")
        drawn = (plot_detection(detection, plot, f"{Path(path).name}: {int(detection.anomaly.sum())} record(s) "
                                f"flagged", windows) if plot is not None else None)
    flagged = int(detection.anomaly.sum())
    click.echo(f"{len(values)} records, the first {config.probation} learned from; {flagged} flagged at score >= "
               f"{config.threshold:g}", err=True)
    if output is not None:
        click.echo(f"Scores: {output}", err=True)
    else:
        click.echo("\n".join(rows))
    if drawn is not None:
        click.echo(f"Plot: {drawn}", err=True)


detect_command.params[2:2] = options_of(DetectConfig)  # after SOURCE and SERIES

COMMANDS = (detect_command,)
