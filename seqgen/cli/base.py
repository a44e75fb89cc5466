"""The `seqgen` command group and what every command shares: one-line errors, options built from the
config dataclasses, and `--config FILE`."""

from __future__ import annotations

import dataclasses
import sys

import click

from seqgen.config import THREADS_HELP, field_type, flag, metadata
from seqgen.errors import SeqgenError
from seqgen.version import __version__


class SeqgenGroup(click.Group):
    """Every error is one line on stderr and a non-zero exit; never a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as error:
            hint = f" (see: {error.ctx.command_path} --help)" if error.ctx is not None else ""
            click.echo(f"Error: {_one_line(error.format_message())}{hint}", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            click.echo(f"Error: {_one_line(error.format_message())}", err=True)
            sys.exit(error.exit_code)
        except SeqgenError as error:
            click.echo(f"Error: {_one_line(str(error))}", err=True)
            sys.exit(1)
        except (click.Abort, KeyboardInterrupt):
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except MemoryError:
            click.echo("Error: out of memory; use a smaller model (--hidden-size, --num-layers, --embedding-dim) "
                       "or a smaller --batch-size", err=True)
            sys.exit(1)
        except RuntimeError as error:  # torch reports an allocation it cannot make as a RuntimeError
            if not _out_of_memory(error):
                raise
            click.echo(f"Error: out of memory ({_one_line(str(error).splitlines()[0])[:160]}); use a smaller model "
                       "(--hidden-size, --num-layers, --embedding-dim) or a smaller --batch-size", err=True)
            sys.exit(1)
        except BrokenPipeError:  # `seqgen sample … | head`: the reader left; nothing is wrong
            sys.stderr.close()
            sys.exit(0)
        sys.exit(code if isinstance(code, int) else 0)


class FiniteFloat(click.FloatRange):
    """A float in a range that is also a real number: nan and inf are refused (FloatRange lets them through)."""

    def convert(self, value, param, ctx):
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def _out_of_memory(error: Exception) -> bool:
    text = str(error)
    return type(error).__name__ == "OutOfMemoryError" or "can't allocate memory" in text or "out of memory" in text


def _one_line(message: str) -> str:
    return " ".join(message.split())


def options_of(*classes) -> list[click.Option]:
    """Click options for every field of the config dataclasses: flag, default and help in one place.
    Values are checked by the configs themselves, so the command line and the Python API give the
    same message for the same mistake."""
    options, seen = [], set()
    for cls in classes:
        for field in dataclasses.fields(cls):
            meta = metadata(cls, field.name)
            if not meta.get("cli", True) or field.name in seen:
                continue
            seen.add(field.name)
            kind = field_type(cls, field.name)
            help_text = meta.get("help", "")
            metavar = {int: "INTEGER", float: "FLOAT", str: "TEXT"}.get(kind, None)
            if "min" in meta or "max" in meta:  # the range in the metavar, e.g. FLOAT>0 or FLOAT 0..0.9
                low, high = meta.get("min"), meta.get("max")
                if high is None:
                    metavar += f"{'>' if meta.get('min_open') else '>='}{low:g}"
                elif low is None:
                    metavar += f"<={high:g}"
                else:
                    metavar += f" {low:g}..{high:g}"
            shown = field.default is not None and field.default != ""
            if kind is bool:
                name = flag(field.name)
                options.append(click.Option([f"{name}/--no-{name[2:]}", field.name], default=field.default,
                                            show_default=True, help=help_text))
                continue
            if "choices" in meta:
                metavar = "[" + "|".join(meta["choices"]) + "]"
            options.append(click.Option([flag(field.name), field.name], type=kind, default=field.default,
                                        show_default=shown, help=help_text, metavar=metavar))
    return options


def threads_option(command):
    """--threads, for the commands that compute from a checkpoint (training has it from its config)."""
    return click.option("--threads", type=click.IntRange(min=1, max=1024), default=None, help=THREADS_HELP)(command)


def explicit_options(ctx: click.Context, options: dict) -> dict:
    """The options the user set, on the command line or in --config, as opposed to defaults."""
    sources = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.DEFAULT_MAP)
    return {name: value for name, value in options.items() if ctx.get_parameter_source(name) in sources}


def refuse_foreign_options(ctx: click.Context, options: dict, task: str, applies_to: dict) -> None:
    """One line when an option typed on the command line does not apply to the loaded checkpoint's task
    (`applies_to` maps an option's name to the tasks it serves; options not in it serve all)."""
    foreign = [name for name in explicit_options(ctx, options) if name in applies_to and task not in applies_to[name]]
    if foreign:
        flags = ", ".join(p.opts[0] for p in ctx.command.params if p.name in foreign)
        raise click.UsageError(f"{flags} {'does' if len(foreign) == 1 else 'do'} not apply to a {task} checkpoint")


def read_config_file(path: str) -> dict:
    """--config run.toml as flat option names; sections such as [model] and [train] are for the reader's eyes."""
    import tomllib

    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except OSError as error:
        raise SeqgenError(f"cannot read --config {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise SeqgenError(f"--config {path} is not UTF-8 text; save it as a UTF-8 TOML file") from None
    except tomllib.TOMLDecodeError as error:
        raise SeqgenError(f"--config {path} is not valid TOML: {error}") from None
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict) and key not in SECTIONS:
            raise SeqgenError(f"--config {path} has a section [{key}]; use [{'], ['.join(SECTIONS)}] or none")
        for name, item in (value.items() if isinstance(value, dict) else [(key, value)]):
            option = name.replace("-", "_")
            if option in flat:
                raise SeqgenError(f"--config {path} sets {name} twice; keep one")
            if isinstance(item, (dict, list)) or not isinstance(item, (str, int, float, bool)):
                raise SeqgenError(f"--config {path}: {name} must be a single number, text or true/false, "
                                  f"not {type(item).__name__} {item!r}"[:200])
            flat[option] = item
    return flat


# The sections a --config file may use; they are only for the reader's eyes.
SECTIONS = ("model", "train")


def _check_config_value(path: str, param: click.Parameter, value):
    """A --config value must have its option's type as written: TOML says what it is, so 2.5 for a
    whole number or 1 for true/false is a mistake, not something to round."""
    kind = param.type
    if getattr(param, "is_flag", False) or isinstance(kind, click.types.BoolParamType):
        ok = isinstance(value, bool)
    elif isinstance(kind, click.types.IntParamType):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(kind, click.types.FloatParamType):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        wanted = {click.types.IntParamType: "a whole number", click.types.FloatParamType: "a number",
                  click.types.BoolParamType: "true or false"}
        what = next((w for t, w in wanted.items() if isinstance(kind, t)), "text")
        if getattr(param, "is_flag", False):
            what = "true or false"
        raise SeqgenError(f"--config {path}: {param.name} must be {what}, not {value!r}")


def load_config_file(ctx: click.Context, param, path):
    """--config run.toml: its keys become the defaults, so flags typed on the command line win."""
    if path is None:
        return
    flat = read_config_file(path)
    params = {p.name: p for p in ctx.command.params if p.expose_value}
    unknown = sorted(set(flat) - set(params))
    if unknown:
        raise click.BadParameter(f"{path} sets unknown option(s): {', '.join(unknown)}", ctx=ctx, param=param)
    for name, value in flat.items():
        _check_config_value(path, params[name], value)
    ctx.default_map = {**(ctx.default_map or {}), **flat}


@click.group(cls=SeqgenGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="seqgen")
def cli():
    """Train LSTM networks on sequences and generate from them."""
