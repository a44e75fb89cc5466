"""Click options built from the config dataclasses, and the options every command shares: what the command
line and the commands a task contributes (its `commands.py`) build their options from."""

from __future__ import annotations

import dataclasses

import click

from seqgen.config import THREADS_HELP, check, field_type, flag, metadata, option_names
from seqgen.errors import SeqgenError

PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def options_of(*classes) -> list[click.Option]:
    """Click options for every field of the config dataclasses: flag, default and help in one place.
    Values are checked by the configs themselves, so the command line and the Python API give the
    same message for the same mistake."""
    options, seen = [], set()
    for cls in classes:
        names = option_names(cls)
        for field in dataclasses.fields(cls):
            meta = metadata(cls, field.name)
            if field.name not in names or field.name in seen:
                continue
            seen.add(field.name)
            kind = field_type(cls, field.name)
            help_text = meta.get("help", "")
            metavar = "PATH" if meta.get("path") else {int: "INTEGER", float: "FLOAT", str: "TEXT"}.get(kind, None)
            if "min" in meta or "max" in meta:  # the range in the metavar, e.g. FLOAT>0 or FLOAT 0..0.9
                low, high = meta.get("min"), meta.get("max")
                high = None if high is not None and high >= 2**53 else high  # a seed's bound says nothing
                if high is None:
                    metavar += f"{'>' if meta.get('min_open') else '>='}{low:g}"
                elif low is None:
                    metavar += f"<={high:g}"
                else:
                    metavar += f" {low:g}..{high:g}"
            shown = field.default is not None and field.default != ""
            if kind is bool:
                name = flag(field.name)
                off = meta.get("off", f"--no-{name[2:]}")  # the flag that turns it off, e.g. --from-training-end
                options.append(click.Option([f"{name}/{off}", field.name], default=field.default,
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


def member_option() -> click.Option:
    """--member, for `seqgen inspect` on an ensemble's checkpoint (its help is led by the tasks it serves)."""
    return click.Option(["--member", "member"], type=click.IntRange(min=0), default=0, show_default=True,
                        help="which network of the ensemble to read.")


def explicit_options(ctx: click.Context, options: dict) -> dict:
    """The options the user set, on the command line or in --config, as opposed to defaults."""
    sources = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.DEFAULT_MAP)
    return {name: value for name, value in options.items() if ctx.get_parameter_source(name) in sources}


def form_fields(cls, names, **defaults) -> list[dict]:
    """Fields of a form (seqgen serve's page) for options of a config dataclass: name, label (the flag), kind
    (integer, number, text, choice or checkbox), default (`defaults` may set another), help, choices and range;
    one place for them, as options_of is for flags. The values typed are checked by the config itself."""
    fields = []
    for name in names:
        meta, kind = metadata(cls, name), field_type(cls, name)
        value = defaults.get(name, next(f.default for f in dataclasses.fields(cls) if f.name == name))
        field = {"name": name, "label": flag(name), "help": meta.get("help", ""), "default": value,
                 "kind": "choice" if "choices" in meta else {bool: "checkbox", int: "integer", float: "number"}.get(
                     kind, "text")}
        for key in ("choices", "min", "max"):
            if key in meta and not (key == "max" and meta[key] >= 2**53):
                field[key] = list(meta[key]) if key == "choices" else meta[key]
        if meta.get("path"):
            field["path"] = True
        fields.append(field)
    return fields


def check_plot_path(path) -> str:
    """--plot's file name as text; one line unless it ends in a suffix matplotlib writes."""
    path = check("--plot", path, str, path=True)
    if not path.lower().endswith(PLOT_SUFFIXES):
        raise SeqgenError("--plot needs a file name ending in .png, .svg or .pdf")
    return path
