"""Translation: training an encoder-decoder on pairs, `translate`, and scoring translations."""

from __future__ import annotations

import dataclasses
import json
import math
import sys

import click

from seqgen.cli.base import cli, explicit_options, stop_on_signals
from seqgen.config import TranslateConfig
from seqgen.errors import SeqgenError


def train_translation(ctx: click.Context, resume, sample_length, quiet, options) -> None:
    """--task translate: an encoder-decoder on pairs; shared flags take TranslateConfig's defaults unless typed."""
    from seqgen.translate import load_translator, train_translation

    if resume is not None:
        raise click.UsageError("--resume is not supported for --task translate yet; start a new run")
    given = explicit_options(ctx, options)
    unused = sorted(set(given) - {f.name for f in dataclasses.fields(TranslateConfig)})
    if unused:
        flags = ", ".join("--" + n.replace("_", "-") for n in unused)
        raise click.UsageError(f"{flags} {'does' if len(unused) == 1 else 'do'} not apply to --task translate")
    config = TranslateConfig(**given)
    with stop_on_signals() as stop_requested:
        result = train_translation(config, should_stop=stop_requested, progress=not quiet,
                                   log=lambda line: click.echo(line, err=True))
    last = next(h for h in reversed(result.history) if "val_loss" in h)
    click.echo(f"Best validation loss {result.best_val_loss:.4f} nats/token after {result.step} steps; "
               f"validation exact match (greedy) {100 * last['val_exact_match']:.2f}% at the end.", err=True)
    click.echo(f"Checkpoints: {result.best_path}  {result.latest_path}", err=True)
    if result.stop_reason == "interrupted":
        ctx.exit(130)
    if result.stop_reason == "patience":
        click.echo("Stopped early: the validation loss stopped improving (--patience).", err=True)
    if sample_length:
        from seqgen.translate import checkpoint_splits

        translator, payload = load_translator(result.best_path, "cpu")
        examples = checkpoint_splits(payload)["test"][:5]
        if not examples:
            return
        click.echo(f"Test examples (greedy), from: seqgen translate {result.best_path} TEXT", err=True)
        for (source, target), output in zip(examples, translator.translate([s for s, _ in examples])):
            click.echo(f"{source}\t{output}" + ("" if output == target else f"\t(expected {target})"))


MAX_BEAM = 64  # a wider beam costs memory and time in proportion and no longer changes the best translation


def _finite(ctx, param, value):
    """click's FloatRange lets nan through (every comparison with nan is false): refuse it in one line."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number", ctx=ctx, param=param)
    return value


@cli.command("translate")
@click.argument("checkpoint", type=click.Path())
@click.argument("texts", nargs=-1, required=True)
@click.option("--beam-size", type=click.IntRange(min=1, max=MAX_BEAM), default=5, show_default=True,
              help=f"Hypotheses kept per step (1: greedy; at most {MAX_BEAM}).")
@click.option("--length-penalty", type=click.FloatRange(min=0.0, max=10.0), default=1.0, show_default=True,
              callback=lambda ctx, param, value: _finite(ctx, param, value),
              help="Rank hypotheses by log-probability / length^this (0 favours short outputs).")
@click.option("--max-len", type=click.IntRange(min=1, max=1000), default=None,
              help="Most tokens per translation [default: 2 × source + 10, at most 512].")
@click.option("--plot-attention", type=click.Path(dir_okay=False), default=None, help="Draw the attention of the translation into this PNG.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to run.")
def translate_command(checkpoint, texts, beam_size, length_penalty, max_len, plot_attention, device):
    """Translate TEXTS with a translate checkpoint, one line out per text; `-` reads stdin line by line."""
    from seqgen.translate import load_translator

    if plot_attention is not None and (len(texts) != 1 or texts == ("-",)):
        raise click.UsageError("--plot-attention draws one translation: give exactly one text")
    if plot_attention is not None and not plot_attention.lower().endswith((".png", ".svg", ".pdf")):
        raise click.UsageError("--plot-attention needs a file name ending in .png, .svg or .pdf")
    for text in texts:
        if text != "-":
            _check_text(text, "TEXT")
    translator, _ = load_translator(checkpoint, device)

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
        return translator.translate(batch, beam_size, max_len, length_penalty)

    translation = None
    for text in texts:
        if text != "-":
            translation = run([text])[0]
            click.echo(translation)
            continue
        for number, line in enumerate(_stdin_lines(), start=1):
            click.echo(run([line], f"line {number} of stdin")[0] if line.strip() else "")
            sys.stdout.flush()
    if plot_attention is not None:
        from seqgen.evaluate_translation import plot_attention as draw

        path = draw(*translator.attention(texts[0], translation), plot_attention)
        click.echo(f"Attention plot: {path}", err=True)


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


def evaluate_translation(checkpoint, split, text_file, pairs_file, encoding, beam_size, device, as_json) -> None:
    from seqgen.evaluate_translation import evaluate_translator
    from seqgen.translate import checkpoint_splits, load_translator

    if text_file is not None:
        raise click.UsageError("a translate checkpoint is scored on pairs: use --pairs FILE instead of --text")
    translator, payload = load_translator(checkpoint, device)
    if pairs_file is not None:
        from seqgen.data.pairs import describe_skipped, read_pairs

        config = payload["train_config"]
        read = read_pairs(pairs_file, config.get("source_column"), config.get("target_column"), encoding)
        if read.skipped:
            click.echo(f"{pairs_file}: {describe_skipped(read.skipped)}", err=True)
        pairs, source = read.pairs, pairs_file
    else:
        pairs, source = checkpoint_splits(payload)[split], f"{payload['corpus']['spec']} ({split} split)"
        if not pairs:
            raise SeqgenError(f"the {split} split of {payload['corpus']['spec']} is empty "
                              f"(--{split}-fraction was 0 or the file is small); score a file with --pairs FILE")
    click.echo(f"Scoring {len(pairs):,} pairs of {source}, greedy and beam {beam_size} …", err=True)
    result = {"source": source, **evaluate_translator(translator, pairs, (1, beam_size))}
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    click.echo(f"{source}: {len(pairs):,} pairs")
    for name in ("greedy", f"beam{beam_size}"):
        r = result[name]
        click.echo(f"{name:<8} exact match {r['exact_match']:6.2f}%   BLEU {r['bleu']:6.2f}   chrF {r['chrf']:6.2f}"
                   f"   ({r['seconds']:.1f} s)")
