"""`seqgen translate`: sentences through a translate checkpoint, from the arguments or stdin."""

from __future__ import annotations

import sys

import click

from seqgen.options import options_of, threads_option
from seqgen.tasks.translate.config import DecodeConfig


@click.command("translate")
@click.argument("checkpoint", type=click.Path())
@click.argument("texts", nargs=-1, required=True)
@click.option("--plot-attention", type=click.Path(dir_okay=False), default=None, help="Draw the attention of the translation into this PNG.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to run.")
@threads_option
def translate_command(checkpoint, texts, plot_attention, device, threads, **search):
    """Translate TEXTS with a translate checkpoint, one line out per text; `-` reads stdin line by line."""
    from seqgen.tasks.translate import Translator

    DecodeConfig(**search)  # a value out of range is one line before the model is loaded
    if plot_attention is not None and (len(texts) != 1 or texts == ("-",)):
        raise click.UsageError("--plot-attention draws one translation: give exactly one text")
    if plot_attention is not None and not plot_attention.lower().endswith((".png", ".svg", ".pdf")):
        raise click.UsageError("--plot-attention needs a file name ending in .png, .svg or .pdf")
    for text in texts:
        if text != "-":
            _check_text(text, "TEXT")
    translator = Translator.load(checkpoint, device, threads)

    def run(batch, where="the text"):
        unknown = translator.source_vocab.unknown(batch[0][:translator.max_length * 64])
        if unknown:
            shown = ", ".join(map(repr, unknown[:20])) + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
            click.echo(f"note: the model never saw {shown}; read as unknown", err=True)
        length = translator.source_length(batch[0])
        if length > translator.max_length:
            click.echo(f"note: {where} has {'at least ' if len(batch[0]) > translator.max_length * 64 else ''}{length:,} "
                       f"tokens, more than the {translator.max_length} the model reads (--max-length it was trained "
                       f"with); translating its first {translator.max_length}", err=True)
        return translator.translate(batch, **search)

    translation = None
    for text in texts:
        if text != "-":
            translation = run([text])[0]
            if plot_attention is None:  # else printed once the plot is drawn, so a plot that fails is one line
                click.echo(translation.marked())
            continue
        for number, line in enumerate(_stdin_lines(), start=1):
            click.echo(run([line], f"line {number} of stdin")[0].marked() if line.strip() else "")
            sys.stdout.flush()
    if plot_attention is not None:
        from seqgen.tasks.translate.evaluate import plot_attention as draw

        path = draw(*translator.attention(texts[0], translation), plot_attention)
        click.echo(translation.marked())
        click.echo(f"Attention plot: {path}", err=True)


translate_command.params[2:2] = options_of(DecodeConfig)  # after CHECKPOINT and TEXTS


STDIN_LINE_LIMIT = 1 << 20  # bytes: a longer "line" is not a sentence (binary data, or a file without newlines)


def _check_text(text: str, where: str) -> None:
    """Refuse a text that cannot be a sentence: blank, or holding a NUL or undecodable bytes."""
    if not text.strip():
        raise click.UsageError(f"{where} is empty; give the text to translate, or - to read lines from stdin")
    if "\x00" in text:
        raise click.UsageError(f"{where} holds a NUL byte, so it is binary data, not text; give plain UTF-8 text")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # argv or stdin bytes that were not valid in the locale's encoding
        raise click.UsageError(f"{where} is not valid UTF-8 text; give plain UTF-8 text") from None


def _stdin_lines():
    """Lines of stdin without their line ends, decoded as UTF-8; binary input is refused with one line."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream without bytes underneath (already decoded)
        for number, line in enumerate(sys.stdin, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                _check_text(line, f"line {number} of stdin")
            yield line
        return
    number = 0
    while True:
        raw = stream.readline(STDIN_LINE_LIMIT + 1)
        if not raw:
            return
        number += 1
        if len(raw) > STDIN_LINE_LIMIT:
            raise click.UsageError(f"line {number} of stdin is longer than {STDIN_LINE_LIMIT >> 20} MiB, so it is not "
                                   "a sentence (binary data?); give one sentence per line")
        if b"\x00" in raw:
            raise click.UsageError(f"line {number} of stdin holds a NUL byte, so stdin is binary data, not text; "
                                   "give plain UTF-8 text, one sentence per line")
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as error:
            raise click.UsageError(f"line {number} of stdin is not valid UTF-8 (byte 0x{raw[error.start]:02x}); "
                                   "convert it to UTF-8, e.g. with iconv") from None
        if number == 1:
            line = line.lstrip("\ufeff")
        yield line


COMMANDS = (translate_command,)
