"""What the command line shows of a language model: after training, in `seqgen evaluate` and `seqgen inspect`,
and the command it adds (`seqgen sample`)."""

from __future__ import annotations

import math

import click

from seqgen.tasks.language_model.commands import COMMANDS  # noqa: F401  (seqgen sample)

TASK_HELP = "a language model (text or music)"  # in --task's help
SAMPLE_LENGTH_HELP = "language model: tokens sampled from the best model at the end"  # in --sample-length's help
EVALUATE_HELP = ("Language models: loss, perplexity, bits per token and character (text) or per quarter note and "
                 "statistics of generated pieces (music).")
INSPECT_READS = "a language model reads --text, --text-file or (music) --prime-midi"
INSPECT_TEXT = "text; a music model: event tokens"  # what --text holds for this task
INSPECT_LABEL = "music model"  # who the inspect options below serve
INSPECT_INPUT_OPTIONS = [
    click.Option(["--prime-midi", "prime_midi"], type=click.Path(dir_okay=False), default=None,
                 help="the piece to read (MIDI, MusicXML or ABC)."),
]
INSPECT_MODEL_OPTIONS: list = []


def inspect_input(model, text, options: dict, save_path):
    """The inspection of the input, saved to `save_path` as it is read (an input of any length fits in memory);
    and the file so written."""
    return model.inspect(text, prime_midi=options["prime_midi"], save=save_path), save_path


def report_training(result) -> None:
    if math.isfinite(result.best_val_loss):
        click.echo(f"Best validation loss {result.best_val_loss:.4f} nats/token "
                   f"({result.best_val_loss / math.log(2):.3f} bits) after {result.step} steps.", err=True)
    click.echo(f"Checkpoints: {result.best_path}  {result.latest_path}", err=True)


def show_sample(result) -> None:
    sample = result.sample
    cut = f", {sample.tokens:,} tokens" if getattr(sample, "cut", False) else ""
    click.echo(f"Sample (temperature 0.8{cut}), from: seqgen sample {result.best_path}", err=True)
    if isinstance(sample, str):
        click.echo(sample)
        return
    for path in result.sample:  # a music model wrote its sample beside the checkpoints
        click.echo(str(path))
    if not result.sample:
        click.echo("The sample has no notes (the model drew none); nothing written. Train longer.", err=True)


def print_evaluation(result: dict) -> None:
    if "note" in result:
        click.echo(f"note: {result['note']}", err=True)
    line = (f"loss {result['loss']:.4f} nats/token   perplexity {result['perplexity']:.3f}   "
            f"{result['bits_per_token']:.4f} bits/token")
    if "bits_per_character" in result:
        click.echo(f"{result['source']}: {result['tokens']:,} tokens, {result['characters']:,} characters")
        click.echo(f"{line}   {result['bits_per_character']:.4f} bits/character")
        return
    if "loss_per_frame" in result:
        click.echo(f"{result['source']}: {result['pieces']:,} pieces, {result['frames']:,} frames, {result['tokens']:,} tokens")
        click.echo(f"{line}   {result['loss_per_frame']:.4f} nats/frame (negative log-likelihood of the frames)")
    else:
        click.echo(f"{result['source']}: {result['tokens']:,} tokens, {result.get('quarter_notes', 0):,.0f} quarter notes")
        click.echo(f"{line}   {result.get('loss_per_quarter', float('nan')):.4f} nats/quarter note")
    if "generated_vs_corpus" in result:
        stats = result["generated_vs_corpus"]
        click.echo(f"{stats['settings']['pieces']} generated pieces against the split: pitch-class histogram "
                   f"distance {stats['pitch_class_distance']:.3f}")
        for name in ("in_key_share", "note_density", "pitch_range", "lowest_pitch", "highest_pitch", "parts",
                     "parallel_fifths_per_100_beats", "parallel_octaves_per_100_beats"):
            click.echo(f"  {name:<30} generated {stats['generated'][name]:7.2f}   corpus {stats['corpus'][name]:7.2f}")
        corpus_ranges = {r["part"]: r for r in stats["corpus"]["range_per_part"]}
        for generated in stats["generated"]["range_per_part"]:
            theirs = corpus_ranges.get(generated["part"])
            shown = f"{theirs['lowest']:5.1f}-{theirs['highest']:5.1f}" if theirs else "  (no such part)"
            click.echo(f"  {'range of part ' + str(generated['part'] + 1):<30} generated "
                       f"{generated['lowest']:5.1f}-{generated['highest']:5.1f}   corpus {shown}")


# seqgen serve: the options its train form shows first, and what its page offers for a loaded model
STUDIO_TRAIN = ("corpus", "hidden_size", "num_layers", "embedding_dim", "max_steps", "max_time", "batch_size",
                "bptt", "eval_interval", "log_interval")
_STUDIO_TEXT = ("prime", "temperature", "top_k", "top_p", "length", "seed")
_STUDIO_MUSIC = ("temperature", "top_k", "top_p", "length", "bars", "seed")


def studio_form(model) -> dict:
    """A text model streams its sample ("stream"); a music model draws a piece to see, hear and download."""
    from seqgen.options import form_fields
    from seqgen.tasks.language_model.config import SampleConfig

    if model.is_music:
        return {"view": "music", "title": "Generate music", "fields": form_fields(SampleConfig, _STUDIO_MUSIC, length=300)}
    return {"view": "stream", "title": "Generate text", "fields": form_fields(SampleConfig, _STUDIO_TEXT, length=300)}


def studio_stream(model, values: dict):
    """The text sample in parts as they are drawn (the prime first)."""
    return model.stream(**{k: v for k, v in values.items() if k in _STUDIO_TEXT})


def studio_try(model, values: dict, folder) -> dict:
    """One piece, written to `folder` as MIDI, MusicXML and (where FluidSynth is installed) WAV, with its notes
    for the piano roll: (offset, duration) in quarter notes, part, pitch."""
    import secrets
    from pathlib import Path

    from seqgen.errors import SeqgenError
    from seqgen.music.events import note_times, piece_end
    from seqgen.music.scores import write_piece

    options = {k: v for k, v in values.items() if k in _STUDIO_MUSIC}
    if options.get("seed") is None:
        options["seed"] = secrets.randbelow(2**31)
    if not model.is_music:
        raise SeqgenError("this checkpoint is a text model; its samples stream as text")
    piece = model.generate(**options)[0]
    if not piece["notes"]:
        raise SeqgenError("the sample has no notes (the model drew none); try another seed, a higher temperature, "
                          "or a larger length")
    grid, folder = model.tokenizer.grid, Path(folder)
    files = {"midi": write_piece(piece, folder / "sample.mid", "midi", grid).name,
             "musicxml": write_piece(piece, folder / "sample.musicxml", "musicxml", grid).name}
    note = None
    try:
        from seqgen.music.audio import write_wav

        files["wav"] = write_wav(piece, folder / "sample.wav", grid).name
    except SeqgenError as error:  # no FluidSynth: the page plays the notes itself
        note = str(error)
    return {"notes": [list(n) for n in note_times(piece, grid)], "end": piece_end(piece, grid),
            "tempo": piece.get("tempo") or 120.0, "seed": options["seed"], "files": files, "note": note}
