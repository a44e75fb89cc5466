"""`seqgen evaluate`: score any task's checkpoint; each option belongs to the tasks it names."""

from __future__ import annotations

import json

import click

from seqgen.cli.base import cli, refuse_foreign_options
from seqgen.config import option_names
from seqgen.options import explicit_options, options_of, threads_option
from seqgen.tasks import TASKS, get_task, presentation


def _task_options() -> tuple[list[click.Option], dict]:
    """The options of every task's EvaluateConfig, each once, its help led by the tasks it serves; and for each
    option the tasks it applies to."""
    applies_to: dict = {}
    for task in TASKS:
        for name in option_names(get_task(task).EvaluateConfig):
            applies_to.setdefault(name, []).append(task)
    options = options_of(*(get_task(task).EvaluateConfig for task in TASKS))
    for option in options:
        owners = [task.replace("-", " ") for task in applies_to[option.name]]
        text = option.help
        option.help = f"{', '.join(owners).capitalize()}: {text[:1].lower() + text[1:]}"
    return options, {name: tuple(tasks) for name, tasks in applies_to.items()}


TASK_OPTIONS, APPLIES_TO = _task_options()
HELP = ("Score a checkpoint on held-out data, whatever its task.\n\n"
        + " ".join(presentation(task).EVALUATE_HELP for task in TASKS))


@cli.command("evaluate", help=HELP)
@click.argument("checkpoint", type=click.Path())
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to run.")
@threads_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
def evaluate_command(ctx, checkpoint, device, threads, as_json, **options):  # its --help: HELP, the tasks' lines
    import seqgen.api

    model = seqgen.api.load(checkpoint, device, threads)
    refuse_foreign_options(ctx, options, model.task, APPLIES_TO)
    result = model.evaluate(**explicit_options(ctx, options))
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    presentation(model.task).print_evaluation(result)


evaluate_command.params[1:1] = TASK_OPTIONS  # after CHECKPOINT, before --device
