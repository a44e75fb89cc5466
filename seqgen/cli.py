"""The `seqgen` command line: each command builds a config, calls one library function, reports."""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import sys
import typing

import click

from seqgen import __version__
from seqgen.config import ModelConfig, SampleConfig, TrainConfig
from seqgen.errors import SeqgenError

# Each task's training and evaluation is dispatched on this name; checkpoints record it as "task".
TASKS = ("language-model",)


class SeqgenGroup(click.Group):
    """Every error is one line on stderr and a non-zero exit; never a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as error:
            hint = f" (see: {error.ctx.command_path} --help)" if error.ctx is not None else ""
            click.echo(f"Error: {error.format_message()}{hint}", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            click.echo(f"Error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except SeqgenError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(1)
        except (click.Abort, KeyboardInterrupt):
            click.echo("Aborted.", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


def _click_type(field: dataclasses.Field):
    meta = field.metadata
    base = typing.get_type_hints(_owner[field.name])[field.name]
    base = next((a for a in typing.get_args(base) if a is not type(None)), base)
    if "choices" in meta:
        return click.Choice(meta["choices"])
    if base is int and ("min" in meta or "max" in meta):
        return click.IntRange(min=meta.get("min"), max=meta.get("max"))
    if base is float and ("min" in meta or "max" in meta):
        return click.FloatRange(min=meta.get("min"), max=meta.get("max"), min_open=meta.get("min_open", False))
    return base


_owner: dict[str, type] = {}


def config_options(cls):
    """Click options for every field of a config dataclass: flag, type, range, default and help in one place."""

    def decorate(function):
        # A field whose flag another config already declared shares that flag (e.g. --hidden-size,
        # --lr, --corpus); put task configs above the language-model ones so theirs come second.
        existing = {param.name for param in getattr(function, "__click_params__", [])}
        for field in reversed(dataclasses.fields(cls)):
            if not field.metadata.get("cli", True) or field.name in existing:
                continue
            _owner.setdefault(field.name, cls)
            flag = "--" + field.name.replace("_", "-")
            if field.type in ("bool", bool):
                flag = f"{flag}/--no-{flag[2:]}"
            function = click.option(
                flag, field.name, type=None if field.type in ("bool", bool) else _click_type(field),
                default=field.default, show_default=field.default is not None and field.default != "",
                help=field.metadata["help"],
            )(function)
        return function

    return decorate


def explicit_options(ctx: click.Context, options: dict) -> dict:
    """The options the user set, on the command line or in --config, as opposed to defaults.

    Tasks other than the language model have defaults of their own for shared flags such as
    --hidden-size or --corpus: they take only what the user set and fill the rest themselves.
    """
    sources = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.DEFAULT_MAP)
    return {name: value for name, value in options.items() if ctx.get_parameter_source(name) in sources}


def _fields(cls, values: dict) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def _load_config_file(ctx: click.Context, param, path):
    """--config run.toml: its keys become the defaults, so flags typed on the command line win."""
    if path is None:
        return
    import tomllib

    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise click.BadParameter(f"cannot read {path}: {error}", ctx=ctx, param=param)
    flat = {}
    for key, value in values.items():
        # Sections such as [model] and [train] are only for the reader's eyes.
        items = value.items() if isinstance(value, dict) else [(key, value)]
        for name, item in items:
            flat[name.replace("-", "_")] = item
    known = {p.name for p in ctx.command.params}
    unknown = sorted(set(flat) - known)
    if unknown:
        raise click.BadParameter(f"{path} sets unknown option(s): {', '.join(unknown)}", ctx=ctx, param=param)
    ctx.default_map = {**(ctx.default_map or {}), **flat}


@click.group(cls=SeqgenGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="seqgen")
def cli():
    """Train LSTM networks on sequences and generate from them."""


@cli.command("train")
@click.option("--config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
              callback=_load_config_file, help="TOML file that sets any option below; flags override it.")
@click.option("--task", type=click.Choice(TASKS), default="language-model", show_default=True,
              help="What to learn: next-token language model (text), ...")
@click.option("--resume", type=click.Path(), default=None, help="Continue the run saved in this latest.pt exactly.")
@config_options(ModelConfig)
@config_options(TrainConfig)
@click.option("--sample-length", type=click.IntRange(min=0), default=300, show_default=True,
              help="Characters or tokens sampled from the best model at the end (0: none).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def train_command(ctx: click.Context, task, resume, sample_length, quiet, **options):
    """Train an LSTM on a corpus: a language model by default, or the model of another --task."""
    from seqgen.train import RESUMABLE_OVERRIDES, train

    overrides = None
    if resume is not None:
        given = list(explicit_options(ctx, options))
        fixed = [name for name in given if name not in RESUMABLE_OVERRIDES]
        if fixed:
            flags = ", ".join("--" + name.replace("_", "-") for name in fixed)
            raise click.UsageError(f"{flags} cannot change when resuming; only "
                                   + ", ".join("--" + n.replace("_", "-") for n in RESUMABLE_OVERRIDES) + " can")
        overrides = {name: options[name] for name in given}
    model_config = ModelConfig(**_fields(ModelConfig, options))
    train_config = TrainConfig(**_fields(TrainConfig, options))

    stop = {"requested": False}

    def request_stop(signum, frame):
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True
        click.echo("\nStopping after this step and saving latest.pt (press Ctrl-C again to abort at once).", err=True)

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = train(model_config, train_config, resume=resume, overrides=overrides,
                       should_stop=lambda: stop["requested"], progress=not quiet)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

    if math.isfinite(result.best_val_loss):
        click.echo(f"Best validation loss {result.best_val_loss:.4f} nats/token "
                   f"({result.best_val_loss / math.log(2):.3f} bits) after {result.step} steps.", err=True)
    click.echo(f"Checkpoints: {result.best_path}  {result.latest_path}", err=True)
    if result.stop_reason == "interrupted":
        click.echo(f"Interrupted; continue with: seqgen train --resume {result.latest_path}", err=True)
        ctx.exit(130)
    if result.stop_reason == "patience":
        click.echo("Stopped early: the validation loss stopped improving (--patience).", err=True)
    if sample_length:
        click.echo(f"Sample (temperature 0.8), from: seqgen sample {result.best_path}", err=True)
        _print_samples(str(result.best_path), SampleConfig(length=sample_length, seed=0, device="cpu"))


@cli.command("sample")
@click.argument("checkpoint", type=click.Path())
@config_options(SampleConfig)
@click.option("--prime-file", type=click.Path(dir_okay=False), default=None, help="Read the prime text from this UTF-8 file.")
def sample_command(checkpoint, prime_file, **options):
    """Generate text from a trained checkpoint."""
    config = SampleConfig(**options)
    if prime_file is not None:
        from pathlib import Path

        from seqgen.data.corpora import read_text_file

        config = dataclasses.replace(config, prime=read_text_file(Path(prime_file)))
    _print_samples(checkpoint, config)


def _print_samples(checkpoint: str, config: SampleConfig) -> None:
    """Stream one sample to stdout as it is generated, or print a batch of samples one after another."""
    import secrets

    import torch

    from seqgen.checkpoint import load_language_model
    from seqgen.device import resolve_device
    from seqgen.sample import generate, stream_text
    from seqgen.tokenizers.char import UnknownCharacterError

    device = resolve_device(config.device)
    model, tokenizer, _ = load_language_model(checkpoint, device)
    if config.prime:
        try:
            prime_ids = tokenizer.encode(config.prime).astype("int64")
        except UnknownCharacterError as error:
            raise SeqgenError(f"the prime text cannot be encoded: {error}") from None
    else:
        start = tokenizer.newline_id()
        prime_ids = [start if start is not None else 0]  # a neutral start token, not shown
    prime = torch.as_tensor(prime_ids, dtype=torch.long, device=device).repeat(config.num_samples, 1)  # (N, P)
    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    if config.seed is None:
        click.echo(f"(seed {seed})", err=True)
    generator = torch.Generator(device=device).manual_seed(seed)
    tokens = generate(model, prime, config.length, config.temperature, config.top_k, config.top_p, generator)
    if config.num_samples == 1:
        click.echo(config.prime, nl=False)
        for piece in stream_text(tokenizer, tokens):
            click.echo(piece, nl=False)
        click.echo()
        return
    rows = torch.stack(list(tokens), dim=1).cpu()  # (N, length)
    for index, row in enumerate(rows, 1):
        click.echo(f"--- sample {index} ---", err=True)
        click.echo(config.prime + tokenizer.decode(row.tolist()))


@cli.command("evaluate")
@click.argument("checkpoint", type=click.Path())
@click.option("--split", type=click.Choice(["val", "test"]), default="test", show_default=True,
              help="Which held-out part of the training corpus to score.")
@click.option("--text", "text_file", type=click.Path(dir_okay=False), default=None, help="Score this text file instead.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of --text.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True, help="Streams the text is scored in.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to run.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def evaluate_command(checkpoint, split, text_file, encoding, batch_size, device, as_json):
    """Loss, perplexity and bits per token / character of a checkpoint on held-out text."""
    from seqgen.checkpoint import load_checkpoint
    from seqgen.evaluate import evaluate_checkpoint

    task = load_checkpoint(checkpoint)["task"]
    if task != "language-model":
        raise SeqgenError(f"evaluating a {task} checkpoint is not supported yet")
    result = evaluate_checkpoint(checkpoint, split, text_file, encoding, batch_size, device)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{result['source']}: {result['tokens']:,} tokens, {result['characters']:,} characters")
    click.echo(f"loss {result['loss']:.4f} nats/token   perplexity {result['perplexity']:.3f}   "
               f"{result['bits_per_token']:.4f} bits/token   {result['bits_per_character']:.4f} bits/character")


@cli.command("corpora")
def corpora_command():
    """List the built-in corpora: name, kind, size and where each comes from."""
    from seqgen.data.corpora import describe_corpora

    rows = describe_corpora()
    width = max(len(r["name"]) for r in rows)
    click.echo(f"{'name':<{width}}  kind  {'size':>9}  description / source")
    for r in rows:
        size = f"{r['size'] / 1e3:,.0f} kB" if r["size"] else "?"
        click.echo(f"{r['name']:<{width}}  {r['kind']:<4}  {size:>9}  {r['description']}")
        click.echo(f"{'':<{width}}  {'':<4}  {'':>9}  {r['source']}")


main = cli
