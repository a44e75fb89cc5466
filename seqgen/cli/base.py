"""The `seqgen` command group and what every command shares: one-line errors, options built from the
config dataclasses, and `--config FILE`."""

from __future__ import annotations

import sys
import time

import click

from seqgen.config import read_config_file
from seqgen.errors import SeqgenError
from seqgen.options import explicit_options
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
            _fail(error, f"Error: {_one_line(error.format_message())}{hint}", error.exit_code)
        except click.ClickException as error:
            _fail(error, f"Error: {_one_line(error.format_message())}", error.exit_code)
        except SeqgenError as error:
            _fail(error, f"Error: {_one_line(str(error))}", 1)
        except (click.Abort, KeyboardInterrupt) as error:
            _fail(error, "Aborted.", 130)
        except MemoryError as error:
            _fail(error, "Error: out of memory; use a smaller model (--hidden-size, --num-layers, --embedding-dim) "
                  "or a smaller --batch-size", 1)
        except RuntimeError as error:  # torch reports an allocation it cannot make as a RuntimeError
            if not _out_of_memory(error):
                raise
            _fail(error, f"Error: out of memory ({_one_line(str(error).splitlines()[0])[:160]}); use a smaller model "
                  "(--hidden-size, --num-layers, --embedding-dim) or a smaller --batch-size", 1)
        except BrokenPipeError:  # `seqgen sample … | head`: the reader left; nothing is wrong
            sys.stderr.close()
            sys.exit(0)
        sys.exit(code if isinstance(code, int) else 0)


def _fail(error: BaseException, line: str, code: int) -> None:
    """Print the error's one line and exit with `code`; under torchrun, once for the whole launch (rank 0
    prints what every rank meets, another rank only an error of its own)."""
    from seqgen.distributed import QUIET_RANK_WAIT, reports

    if reports(error):
        click.echo(line, err=True)
    elif not isinstance(error, (KeyboardInterrupt, click.Abort)):  # Ctrl-C reached rank 0 as well: no wait
        time.sleep(QUIET_RANK_WAIT)
    sys.exit(code)


def _out_of_memory(error: Exception) -> bool:
    text = str(error)
    return type(error).__name__ == "OutOfMemoryError" or "can't allocate memory" in text or "out of memory" in text


def _one_line(message: str) -> str:
    return " ".join(message.split())


def refuse_foreign_options(ctx: click.Context, options: dict, task: str, applies_to: dict) -> None:
    """One line when an option typed on the command line does not apply to the loaded checkpoint's task
    (`applies_to` maps an option's name to the tasks it serves; options not in it serve all)."""
    foreign = [name for name in explicit_options(ctx, options) if name in applies_to and task not in applies_to[name]]
    if foreign:
        flags = ", ".join(p.opts[0] for p in ctx.command.params if p.name in foreign)
        raise click.UsageError(f"{flags} {'does' if len(foreign) == 1 else 'do'} not apply to a {task} checkpoint")


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
