"""`seqgen train`: its options are those of the task named by --task, with that task's defaults."""

from __future__ import annotations

import math

import click

from seqgen.cli.base import cli, load_config_file
from seqgen.config import option_names, read_config_file
from seqgen.errors import SeqgenError
from seqgen.options import explicit_options, options_of
from seqgen.tasks import DEFAULT_TASK, TASKS, get_task, presentation


def _task_in(args: list[str]) -> str:
    """The --task on the command line (or in --config, or of the run --resume continues), before click parses
    anything."""
    found = {}
    for index, arg in enumerate(args):
        for name in ("--task", "--config", "--resume"):
            value = args[index + 1] if arg == name and index + 1 < len(args) else (
                arg.split("=", 1)[1] if arg.startswith(name + "=") else None)
            if value is not None:
                found[name] = value
    task = found.get("--task")
    if task is None and "--config" in found:
        try:
            task = read_config_file(found["--config"]).get("task")
        except Exception:  # --config's own callback reports a bad file
            task = None
    if task is None and "--resume" in found:
        from seqgen.api import task_of_run

        try:
            task = task_of_run(found["--resume"])
        except SeqgenError:  # reported once the command runs
            task = None
    return task if task in TASKS else DEFAULT_TASK


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
                      in {n for cls in get_task(t).CONFIGS for n in option_names(cls)}]
            if not owners:
                raise
            raise click.UsageError(f"{error.option_name} belongs to another task (--task {' or '.join(owners)}), "
                                   f"not to --task {name}", ctx=ctx) from None


HELP = (f"Train an LSTM: {get_task(DEFAULT_TASK).SUMMARY} by default, or the model of another --task.\n\n"
        "`seqgen train --task T --help` lists T's own options and defaults.")


def _joined(parts: list[str]) -> str:
    """ "a, b or c" """
    return ", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else "".join(parts)


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


@cli.command("train", cls=TrainCommand, help=HELP)
@click.pass_context
def train_command(ctx: click.Context, task, resume, sample_length, quiet, **options):  # its --help: HELP
    import seqgen.api

    given = explicit_options(ctx, options)
    if resume is not None:
        named = explicit_options(ctx, {"task": task}).get("task")  # else the task is the run's own
        task = seqgen.api.task_of_run(resume, named)
        given["resume"] = resume
    if explicit_options(ctx, {"sample_length": sample_length}) or getattr(get_task(task), "SHOWS_SAMPLES", False):
        given["sample_length"] = sample_length
    result = seqgen.api.train(task, quiet=quiet, **given)
    from seqgen.distributed import launch_rank

    main = launch_rank() == 0  # under torchrun, only rank 0 reports
    if main:
        getattr(presentation(task), "report_training", _report)(result)
    if getattr(result, "stop_reason", None) == "interrupted":
        how = "" if task == DEFAULT_TASK else f" --task {task}"
        if main:
            click.echo(f"Interrupted; continue with: seqgen train{how} --resume {result.latest_path}", err=True)
        ctx.exit(130)
    if not main:
        return
    if getattr(result, "stop_reason", None) == "patience":
        click.echo("Stopped early: the validation loss stopped improving (--patience).", err=True)
    if getattr(result, "sample", None) is not None:
        presentation(task).show_sample(result)


train_command.common = [
    click.Option(["--task"], type=click.Choice(TASKS), default=DEFAULT_TASK, show_default=True,
                 help=f"What to learn: {_joined([presentation(task).TASK_HELP for task in TASKS])}."),
    click.Option(["--config"], type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
                 callback=load_config_file, help="TOML file that sets any option below; flags override it."),
    click.Option(["--resume"], type=click.Path(), default=None,
                 help="Continue the run saved in this latest.pt (or run folder) exactly, as the task it was trained "
                      "for."),
]
train_command.trailing = [
    click.Option(["--sample-length"], type=click.IntRange(min=0, max=10_000_000), default=300, show_default=True,
                 help=_capitalized("; ".join(presentation(task).SAMPLE_LENGTH_HELP for task in TASKS
                                             if hasattr(presentation(task), "SAMPLE_LENGTH_HELP")) + " (0: none).")),
    click.Option(["--quiet"], is_flag=True, help="No progress bar."),
]
train_command.params = train_command.common + options_of(*get_task(DEFAULT_TASK).CONFIGS) + train_command.trailing


def _report(result) -> None:
    if math.isfinite(getattr(result, "best_val_loss", math.inf)):
        click.echo(f"Best validation loss {result.best_val_loss:.4f} after {result.step} steps.", err=True)
    click.echo(f"Checkpoints: {result.best_path}  {result.latest_path}", err=True)
