"""The `seqgen` command group and what every command shares: one-line errors, options built from
the config dataclasses, and `--config FILE`."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import typing

import click

from seqgen import __version__
from seqgen.errors import SeqgenError

# Each task's training and evaluation is dispatched on this name; checkpoints record it as "task".
TASKS = ("language-model", "translate", "forecast", "classify")


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


def config_fields(cls, values: dict) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def load_config_file(ctx: click.Context, param, path):
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




@contextlib.contextmanager
def stop_on_signals():
    """Turn the first Ctrl-C or SIGTERM into a polite request (the training loop saves and returns);
    a second one interrupts at once. Yields the function the loop polls."""
    requested = False

    def request(signum, frame):
        nonlocal requested
        if requested:
            raise KeyboardInterrupt
        requested = True
        click.echo("\nStopping after this step and saving latest.pt (press Ctrl-C again to abort at once).", err=True)

    previous = {s: signal.signal(s, request) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: requested
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
