"""`seqgen sample`: text and music from a language model."""

from __future__ import annotations

import dataclasses

import click

from seqgen.errors import SeqgenError
from seqgen.options import explicit_options, options_of
from seqgen.tasks.language_model.config import SampleConfig


@click.command("sample")
@click.argument("checkpoint", type=click.Path())
@click.option("--prime-file", type=click.Path(dir_okay=False), default=None, help="Read the prime text from this file.")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of --prime-file, e.g. latin-1.")
@click.pass_context
def sample_command(ctx, checkpoint, prime_file, encoding, **options):
    """Generate text, or music files, from a language-model checkpoint."""
    import secrets

    from seqgen.tasks.language_model import LanguageModel

    if prime_file is None and ctx.get_parameter_source("encoding") == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--encoding is the encoding of --prime-file; without one, leave it out")
    if prime_file is not None:
        if "prime" in explicit_options(ctx, options):
            raise click.UsageError("give the prime text either with --prime or with --prime-file, not both")
        from pathlib import Path

        from seqgen.data.corpora import read_text_file

        options["prime"] = read_text_file(Path(prime_file), encoding)
    config = SampleConfig(**options)
    model = LanguageModel.load(checkpoint, config.device)
    if config.prime and not model.is_music:
        model.encode(config.prime)  # an unknown character is one line, before anything is printed
    seed_note = None
    if config.seed is None:
        config = dataclasses.replace(config, seed=secrets.randbelow(2**31))
        seed_note = f"(seed {config.seed})"

    def note_seed():
        """The drawn seed, on stderr once the options and the output have passed their checks: a mistake stays
        one line."""
        if seed_note is not None:
            click.echo(seed_note, err=True)

    if model.is_music:
        if not config.output:
            raise SeqgenError("a music model writes files: pass --output, e.g. --output samples/piece.mid")
        written = model.write(**dataclasses.asdict(config))
        note_seed()
        for path in written:
            click.echo(str(path))
        return
    if config.output:
        written = model.write(**dataclasses.asdict(config))
        note_seed()
        for path in written:
            click.echo(f"wrote {path}", err=True)
        return
    if config.num_samples == 1:
        pieces = model.stream(**dataclasses.asdict(config))
        first = next(pieces)  # the options are checked here, before anything is printed
        note_seed()
        click.echo(first, nl=False)
        for piece in pieces:
            click.echo(piece, nl=False)
        click.echo()
        return
    texts = model.generate(**dataclasses.asdict(config))
    note_seed()
    for index, text in enumerate(texts, 1):
        click.echo(f"--- sample {index} ---", err=True)
        click.echo(text)


sample_command.params[1:1] = options_of(SampleConfig)  # after CHECKPOINT, before --prime-file

COMMANDS = (sample_command,)
