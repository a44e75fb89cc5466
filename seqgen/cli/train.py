"""`seqgen train`: its options are those of the task named by --task, with that task's defaults."""

from __future__ import annotations

import dataclasses
import math

import click

from seqgen.cli.base import cli, explicit_options, load_config_file, options_of, read_config_file
from seqgen.tasks import TASKS, get_task


def _task_in(args: list[str]) -> str:
    """The --task on the command line (or in --config), before click parses anything."""
    task, config = None, None
    for index, arg in enumerate(args):
        for name in ("--task", "--config"):
            value = args[index + 1] if arg == name and index + 1 < len(args) else (
                arg.split("=", 1)[1] if arg.startswith(name + "=") else None)
            if value is not None and name == "--task":
                task = value
            elif value is not None:
                config = value
    if task is None and config is not None:
        try:
            task = read_config_file(config).get("task")
        except Exception:  # --config's own callback reports a bad file
            task = None
    return task if task in TASKS else "language-model"


class TrainCommand(click.Command):
    """A command whose options are rebuilt for the task before parsing, so `--help`, the defaults and
    the accepted flags are the task's own."""

    def parse_args(self, ctx, args):
        name = _task_in(args)
        self.params = self.common + options_of(*get_task(name).CONFIGS) + self.trailing
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as error:
            owners = [t for t in TASKS if t != name and error.option_name.lstrip("-").replace("-", "_")
                      in {f.name for cls in get_task(t).CONFIGS for f in dataclasses.fields(cls)}]
            if not owners:
                raise
            raise click.UsageError(f"{error.option_name} belongs to another task (--task {' or '.join(owners)}), "
                                   f"not to --task {name}", ctx=ctx) from None


@cli.command("train", cls=TrainCommand)
@click.pass_context
def train_command(ctx: click.Context, task, resume, sample_length, quiet, **options):
    """Train an LSTM: a language model of text or music by default, or the model of another --task.

    `seqgen train --task T --help` lists T's own options and defaults.
    """
    import seqgen.api

    given = explicit_options(ctx, options)
    if resume is not None:
        result = seqgen.api.train(task, resume=resume, progress=not quiet, **given)
    else:
        result = seqgen.api.train(task, progress=not quiet, **given)
    from seqgen.distributed import launch_rank

    main = launch_rank() == 0  # under torchrun, only rank 0 reports
    if main:
        REPORTS.get(task, _report)(result)
    if getattr(result, "stop_reason", None) == "interrupted":
        how = "" if task == "language-model" else f" --task {task}"
        if main:
            click.echo(f"Interrupted; continue with: seqgen train{how} --resume {result.latest_path}", err=True)
        ctx.exit(130)
    if not main:
        return
    if getattr(result, "stop_reason", None) == "patience":
        click.echo("Stopped early: the validation loss stopped improving (--patience).", err=True)
    if sample_length and task in SAMPLES:
        SAMPLES[task](result, sample_length)


train_command.common = [
    click.Option(["--task"], type=click.Choice(TASKS), default="language-model", show_default=True,
                 help="What to learn: a language model (text or music), translate (pairs), forecast (a series) or "
                      "classify (sequences)."),
    click.Option(["--config"], type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
                 callback=load_config_file, help="TOML file that sets any option below; flags override it."),
    click.Option(["--resume"], type=click.Path(), default=None,
                 help="Continue the run saved in this latest.pt (or run folder) exactly."),
]
train_command.trailing = [
    click.Option(["--sample-length"], type=click.IntRange(min=0, max=10_000_000), default=300, show_default=True,
                 help="Language model: tokens sampled from the best model at the end; translate: test examples "
                      "shown (0: none)."),
    click.Option(["--quiet"], is_flag=True, help="No progress bar."),
]
train_command.params = train_command.common + options_of(*get_task("language-model").CONFIGS) + train_command.trailing


def _report(result) -> None:
    if math.isfinite(getattr(result, "best_val_loss", math.inf)):
        click.echo(f"Best validation loss {result.best_val_loss:.4f} after {result.step} steps.", err=True)
    click.echo(f"Checkpoints: {result.best_path}  {result.latest_path}", err=True)


def _report_language_model(result) -> None:
    if math.isfinite(result.best_val_loss):
        click.echo(f"Best validation loss {result.best_val_loss:.4f} nats/token "
                   f"({result.best_val_loss / math.log(2):.3f} bits) after {result.step} steps.", err=True)
    click.echo(f"Checkpoints: {result.best_path}  {result.latest_path}", err=True)


def _sample_language_model(result, length: int) -> None:
    from seqgen.tasks.language_model import LanguageModel
    from seqgen.tasks.language_model.generate import MAX_MUSIC_LENGTH, NoNotesError

    model = LanguageModel.load(result.best_path, "cpu")
    cut = model.is_music and length > MAX_MUSIC_LENGTH  # the most a music sample holds: the preview is cut to it
    length = min(length, MAX_MUSIC_LENGTH) if cut else length
    click.echo(f"Sample (temperature 0.8{f', {length:,} tokens' if cut else ''}), from: seqgen sample "
               f"{result.best_path}", err=True)
    if model.is_music:
        # A music model writes its sample beside the checkpoints instead of printing it.
        try:
            written = model.write(length=length, seed=0, output=str(result.run_dir / "sample.mid"), plot=True)
        except NoNotesError:
            click.echo("The sample has no notes (the model drew none); nothing written. Train longer.", err=True)
            return
        for path in written:
            click.echo(str(path))
        return
    for piece in model.stream(length=length, seed=0):
        click.echo(piece, nl=False)
    click.echo()


def _register():
    from seqgen.cli import series, translate

    REPORTS.update({"language-model": _report_language_model, "translate": translate.report_training,
                    "forecast": series.report_forecast_training, "classify": series.report_classify_training})
    SAMPLES.update({"language-model": _sample_language_model, "translate": translate.show_examples})


REPORTS: dict = {}
SAMPLES: dict = {}
