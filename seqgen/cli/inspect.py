"""`seqgen inspect`: watch a trained LSTM's gates and memory cells read an input; a page, a heat map, an .npz."""

from __future__ import annotations

import click

from seqgen.cli.base import cli, refuse_foreign_options, threads_option
from seqgen.errors import SeqgenError
from seqgen.files import together

# Which checkpoints each input option applies to (the rest apply to all).
APPLIES_TO = {
    "text": ("language-model", "translate", "classify"), "text_file": ("language-model", "translate", "classify"),
    "encoding": ("language-model", "translate", "classify"), "prime_midi": ("language-model",),
    "member": ("forecast", "classify"), "part": ("translate",),
}


@cli.command("inspect")
@click.argument("checkpoint", type=click.Path())
@click.option("--text", default=None,
              help="What the model reads: text; a music model: event tokens; translate: a sentence; classify: numbers.")
@click.option("--text-file", type=click.Path(dir_okay=False), default=None, help="Read --text from this file.")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of --text-file, e.g. latin-1.")
@click.option("--prime-midi", type=click.Path(dir_okay=False), default=None,
              help="Music model: the piece to read (MIDI, MusicXML or ABC).")
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
@click.option("--member", type=click.IntRange(min=0), default=0, show_default=True,
              help="Forecast, classify: which network of the ensemble to read.")
@click.option("--part", type=click.Choice(["encoder", "decoder"]), default="encoder", show_default=True,
              help="Translate: the encoder reading the sentence, or the decoder writing its translation.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to run.")
@threads_option
@click.pass_context
def inspect_command(ctx, checkpoint, html_path, png_path, save_path, layer, unit, quantity, start, top, device, threads,
                    **options):
    """Record every gate, cell state and output of a checkpoint's LSTM reading an input.

    A language model reads --text, --text-file or (music) --prime-midi; a forecast model reads its own series;
    translate reads a sentence (--text); classify reads one sequence of numbers (--text). The most telling
    units (whose activation follows a simple feature of the input) are printed; --html, --png and --save
    write the page, the heat map and every value.
    """
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
        inspection, chosen = _read(model, text, options, save_path, layer, unit, quantity, start)
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
            notes.append(f"wrote {save_path if model.task == 'language-model' else inspection.save(save_path)}")
    for note in notes:
        click.echo(note, err=True)
    per_direction = inspection.units // 2 if inspection.directions == 2 else None
    for entry in inspection.ranking(top):
        click.echo(describe(entry, per_direction))
    if not inspection.ranking(1):
        click.echo(unranked_reason(inspection), err=True)


def _read(model, text, options: dict, save_path, layer, unit, quantity, start):
    """The inspection of the input (a language model's saved as it is read), and the unit the views start on; an
    input or a unit out of range is one line, before any output."""
    from seqgen.inspect.page import start_view

    if model.task == "language-model":  # saved as it is read: an input of any length fits in memory
        inspection = model.inspect(text, prime_midi=options["prime_midi"], save=save_path)
    elif model.task == "forecast":
        inspection = model.inspect(member=options["member"])
    elif model.task == "translate":
        if text is None:
            raise SeqgenError("give the sentence to translate and inspect with --text")
        inspection = model.inspect(text.strip())[options["part"]]
    else:
        inspection = model.inspect(_numbers(text), member=options["member"])
    chosen = start_view(inspection, layer, unit, quantity)
    if start >= inspection.steps:
        raise SeqgenError(f"--start {start} is past the input's last step ({inspection.steps - 1})")
    return inspection, chosen


def _folder_for(path) -> None:
    """The folder of an output file, made if missing; one line when it cannot be or the path is a folder."""
    if path.is_dir():
        raise SeqgenError(f"{path} is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SeqgenError(f"cannot write {path}: {error.strerror or error}") from None


def _numbers(text) -> list:
    """classify: --text "0.1 0.5 0.9" (spaces or commas) as one sequence of numbers."""
    import math

    if text is None or not text.replace(",", " ").split():
        raise SeqgenError("give the sequence to inspect with --text, e.g. --text \"0.1 0.5 0.9\"")
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError as error:
        raise SeqgenError(f"--text for a classify model holds numbers separated by spaces or commas: {error}") from None
    if not all(math.isfinite(v) for v in values):
        raise SeqgenError("--text holds a value that is not a finite number")
    return values
