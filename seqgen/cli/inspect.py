"""`seqgen inspect`: watch a trained LSTM's gates and memory cells read an input; a page, a heat map, an .npz."""

from __future__ import annotations

import click

from seqgen.cli.base import cli, refuse_foreign_options
from seqgen.errors import SeqgenError
from seqgen.files import together
from seqgen.options import threads_option
from seqgen.tasks import TASKS, presentation

TEXT_OPTIONS = ("text", "text_file", "encoding")  # for the tasks whose model reads a --text


def _task_options() -> tuple[list, list, dict]:
    """The options the tasks add: those saying what the model reads and those choosing what reads it, each once,
    its help led by whom it serves; and for each option of a task (--text and its kin included) the tasks it
    applies to (the rest apply to all)."""
    inputs, choices, applies_to, labels = [], [], {}, {}
    for task in TASKS:
        shown = presentation(task)
        if shown.INSPECT_TEXT is not None:
            for name in TEXT_OPTIONS:
                applies_to.setdefault(name, []).append(task)
        for group, options in ((inputs, shown.INSPECT_INPUT_OPTIONS), (choices, shown.INSPECT_MODEL_OPTIONS)):
            for option in options:
                if option.name not in labels:
                    group.append(option)
                applies_to.setdefault(option.name, []).append(task)
                labels.setdefault(option.name, []).append(getattr(shown, "INSPECT_LABEL", task.replace("-", " ")))
    for option in inputs + choices:
        option.help = f"{', '.join(labels[option.name]).capitalize()}: {option.help}"
    for group in (inputs, choices):  # the options serving more tasks first
        group.sort(key=lambda option: -len(applies_to[option.name]))
    return inputs, choices, {name: tuple(tasks) for name, tasks in applies_to.items()}


INPUT_OPTIONS, MODEL_OPTIONS, APPLIES_TO = _task_options()
READS = "; ".join(presentation(task).INSPECT_READS for task in TASKS)
HELP = ("Record every gate, cell state and output of a checkpoint's LSTM reading an input.\n\n"
        f"{READS[:1].upper() + READS[1:]}. The most telling units (whose activation follows a simple feature of the "
        "input) are printed; --html, --png and --save write the page, the heat map and every value.")


@cli.command("inspect", help=HELP)
@click.argument("checkpoint", type=click.Path())
@click.option("--text", default=None, help="What the model reads: " + "; ".join(
    presentation(task).INSPECT_TEXT for task in TASKS if presentation(task).INSPECT_TEXT is not None) + ".")
@click.option("--text-file", type=click.Path(dir_okay=False), default=None, help="Read --text from this file.")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of --text-file, e.g. latin-1.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Write the page: the input coloured by one unit, every value on hover, the most telling units.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False), default=None,
              help="Write a heat map of the most telling units over the input.")
@click.option("--save", "save_path", type=click.Path(dir_okay=False), default=None,
              help="Write every value as .npz: tokens, and i, f, g, o, c, h each (layers, T, hidden).")
@click.option("--layer", type=click.IntRange(min=0), default=None,
              help="The layer the page starts on (0 is the first) [default: the most telling unit's].")
@click.option("--unit", type=click.IntRange(min=0), default=None, help="The unit the page starts on [default: the most telling].")
@click.option("--quantity", type=click.Choice(["i", "f", "g", "o", "c", "h"]), default=None,
              help="What colours the page at first: a gate (i, f, g, o), the cell state c or the output h.")
@click.option("--start", type=click.IntRange(min=0), default=0, show_default=True,
              help="The first step the heat map draws (it draws up to 160).")
@click.option("--top", type=click.IntRange(1, 100), default=10, show_default=True,
              help="How many of the most telling units to print.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to run.")
@threads_option
@click.pass_context
def inspect_command(ctx, checkpoint, html_path, png_path, save_path, layer, unit, quantity, start, top, device, threads,
                    **options):  # its --help: HELP, with the tasks' lines
    from pathlib import Path

    import seqgen.api
    from seqgen.inspect.features import describe, unranked_reason

    for path, suffixes, flag in ((html_path, (".html", ".htm"), "--html"), (png_path, (".png", ".svg", ".pdf"), "--png"),
                                 (save_path, (".npz",), "--save")):
        if path is not None and Path(path).suffix.lower() not in suffixes:
            raise click.UsageError(f"{flag} needs a file name ending in {' or '.join(suffixes)}, not {Path(path).name}")
    if options["text_file"] is None and ctx.get_parameter_source("encoding") == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--encoding is the encoding of --text-file; without one, leave it out")
    if options["text"] is not None and options["text_file"] is not None:
        raise click.UsageError("give the text either with --text or with --text-file, not both")
    for path in (html_path, png_path, save_path):
        if path is not None:
            _folder_for(Path(path))  # a file that cannot be written is one line before any work
    model = seqgen.api.load(checkpoint, device, threads)
    refuse_foreign_options(ctx, options, model.task, APPLIES_TO)
    text = options["text"]
    if options["text_file"] is not None:
        from seqgen.data.corpora import read_text_file

        text = read_text_file(Path(options["text_file"]), options["encoding"])
    notes = []  # "wrote …", said once every file is in place
    with together():  # the page, the heat map and the .npz are put in place together, or none of them
        inspection, saved, chosen = _read(model, text, options, save_path, layer, unit, quantity, start)
        view = {"layer": layer, "unit": unit, "quantity": quantity}
        if html_path is not None:
            from seqgen.inspect.page import MAX_PAGE_STEPS

            written = inspection.html(html_path, **view)
            shown = ("" if inspection.steps <= MAX_PAGE_STEPS
                     else f" (its first {MAX_PAGE_STEPS:,} of {inspection.steps:,} steps)")
            notes.append(f"wrote {written}{shown}")
        if png_path is not None:
            rows = None
            if layer is not None or unit is not None or quantity is not None:  # the chosen unit first, then the ranking
                rows = [chosen] + [(e["layer"], e["unit"], e["quantity"]) for e in inspection.ranking(11)
                                   if (e["layer"], e["unit"], e["quantity"]) != chosen][:11]
            notes.append(f"wrote {inspection.png(png_path, units=rows, start=start)}")
        if save_path is not None:
            notes.append(f"wrote {saved if saved is not None else inspection.save(save_path)}")
    for note in notes:
        click.echo(note, err=True)
    per_direction = inspection.units // 2 if inspection.directions == 2 else None
    for entry in inspection.ranking(top):
        click.echo(describe(entry, per_direction))
    if not inspection.ranking(1):
        click.echo(unranked_reason(inspection), err=True)


def _read(model, text, options: dict, save_path, layer, unit, quantity, start):
    """The inspection of the input, the file written as it was read (the task's choice), and the unit the views
    start on; an input or a unit out of range is one line, before any output."""
    from seqgen.inspect.page import start_view

    inspection, saved = presentation(model.task).inspect_input(model, text, options, save_path)
    chosen = start_view(inspection, layer, unit, quantity)
    if start >= inspection.steps:
        raise SeqgenError(f"--start {start} is past the input's last step ({inspection.steps - 1})")
    return inspection, saved, chosen


def _folder_for(path) -> None:
    """The folder of an output file, made if missing; one line when it cannot be or the path is a folder."""
    if path.is_dir():
        raise SeqgenError(f"{path} is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SeqgenError(f"cannot write {path}: {error.strerror or error}") from None


inspect_command.params[4:4] = INPUT_OPTIONS  # after CHECKPOINT, --text, --text-file and --encoding
inspect_command.params[-2:-2] = MODEL_OPTIONS  # before --device and --threads
