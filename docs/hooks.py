"""Pages the site builds from the project itself, so they cannot drift from it (a mkdocs hook, named in
mkdocs.yml; `python docs/hooks.py reference|results` prints a page):

- reference/commands.md: every command and option, from the click commands, which are built from the
  config dataclasses; `seqgen train` once per task, with that task's options and defaults, as
  `seqgen train --task T --help` shows them;
- results.md: the benchmark tables, from benchmarks/*.json (figure, reference, command, date, machine).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
GENERATED = {"reference/commands.md": "command_reference", "results.md": "results_page", "changelog.md": "changelog"}
MARKERS = {"<!-- generated: layout -->": "layout", "<!-- generated: contracts -->": "contracts"}


def on_files(files, config):
    """mkdocs: add the generated pages to the site."""
    from mkdocs.structure.files import File

    for uri, function in GENERATED.items():
        files.append(File.generated(config, uri, content=globals()[function]()))
    return files


def on_page_markdown(markdown, page, config, files):
    """mkdocs: fill the generated parts of hand-written pages (the code layout, the layer contracts)."""
    for marker, function in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, globals()[function]())
    return markdown


def changelog(root: Path = ROOT) -> str:
    return (root / "CHANGELOG.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------ the code's layout and contracts


def _summary(path: Path) -> str:
    """A module's docstring, its first sentence."""
    import ast

    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    doc = " ".join(doc.split("\n\n")[0].split())
    match = re.match(r"(.+?\.)(\s|$)", doc)
    return match.group(1) if match else doc


def layout(root: Path = ROOT) -> str:
    """Every module of the package with the first sentence of its docstring, as a nested list."""
    package = root / "seqgen"
    lines = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(root)
        if path.name == "__main__.py" or "__pycache__" in relative.parts:
            continue
        depth = len(relative.parts) - 2
        if path.name == "__init__.py":
            if relative.parent == Path("seqgen"):
                continue
            name, depth = f"{relative.parent.as_posix()}/", depth - 1
        else:
            name = relative.as_posix()
        lines.append("    " * max(depth, 0) + f"- `{name}`: {_markdown(_summary(path))}")
    return "\n".join(lines)


def contracts(root: Path = ROOT) -> str:
    """The import-linter contracts of setup.cfg, as lists."""
    import configparser

    parser = configparser.ConfigParser()
    parser.read(root / "setup.cfg", encoding="utf-8")
    out = []
    for section in parser.sections():
        if not section.startswith("importlinter:contract:"):
            continue
        contract = parser[section]
        out.append(f"- **{_markdown(contract['name'])}** ({contract['type']})")
        for key in ("layers", "modules", "source_modules", "forbidden_modules"):
            if key in contract:
                values = [v.strip() for v in contract[key].strip().splitlines() if v.strip()]
                out.append(f"    - {key.replace('_', ' ')}: " + ", ".join(f"`{v}`" for v in values))
    return "\n".join(out)


# ------------------------------------------------------------------ the command reference


def _markdown(text: str) -> str:
    """Help text as markdown: code spans kept, markup characters outside them escaped."""
    parts = text.split("`")
    for index in range(0, len(parts), 2):
        parts[index] = (parts[index].replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")
                        .replace("<", "&lt;").replace("[", "\\["))
    return "`".join(parts)


def _options(command: click.Command, ctx: click.Context) -> list[str]:
    lines = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        flags, text = record
        lines.append(f"- `{flags}`" + (f": {_markdown(' '.join(text.split()))}" if text else ""))
    return lines


def _command_section(name: str, command: click.Command, heading: str, parent: click.Context,
                     with_help: bool = True) -> list[str]:
    ctx = click.Context(command, info_name=name, parent=parent)
    usage = " ".join(command.collect_usage_pieces(ctx))
    help_text = (command.help or "").replace("\b\n", "") if with_help else ""
    return [heading, "", f"```\n{ctx.command_path} {usage}\n```", "", _markdown(help_text.strip()), "",
            *_options(command, ctx), ""]


def train_command_for(task: str) -> click.Command:
    """`seqgen train` as it parses with --task `task`: its options are rebuilt per task before parsing."""
    from seqgen.cli import cli
    from seqgen.options import options_of
    from seqgen.tasks import get_task

    train = cli.commands["train"]
    params = train.common + options_of(*get_task(task).CONFIGS) + train.trailing
    return click.Command("train", params=params, help=train.help)


def command_reference() -> str:
    from seqgen.cli import cli
    from seqgen.tasks import TASKS, get_task

    root = click.Context(cli, info_name="seqgen")
    lines = ["# Commands and options", "",
             "Generated from the command line itself (its options are built from each task's configuration "
             "dataclasses), so this page says what `--help` says. Every option of `seqgen train` is also a "
             "keyword of `seqgen.train(...)` (dashes become underscores) and a key of a `--config` TOML file.", "",
             "Commands: " + ", ".join(f"[`seqgen {name}`](#seqgen-{name})" for name in sorted(cli.commands)) + ".",
             ""]
    for name in sorted(cli.commands):
        if name == "train":
            lines += ["## seqgen train {#seqgen-train}", "", _markdown(cli.commands["train"].help.strip()), "",
                      "Its options depend on `--task`: "
                      + ", ".join(f"[{task}](#train-{task})" for task in TASKS) + ".", ""]
            for task in TASKS:
                summary = get_task(task).SUMMARY
                heading = (f"### seqgen train --task {task} {{#train-{task}}}\n\n"
                           f"{_markdown(summary[:1].upper() + summary[1:])}.")
                lines += _command_section("train", train_command_for(task), heading, root, with_help=False)
            continue
        lines += _command_section(name, cli.commands[name], f"## seqgen {name} {{#seqgen-{name}}}", root)
    lines += ["## Shell completion", "",
              "click completes commands and options; add one line to your shell's start-up file:", "",
              "```", 'eval "$(_SEQGEN_COMPLETE=bash_source seqgen)"    # ~/.bashrc',
              'eval "$(_SEQGEN_COMPLETE=zsh_source seqgen)"     # ~/.zshrc',
              "_SEQGEN_COMPLETE=fish_source seqgen | source     # ~/.config/fish/completions/seqgen.fish", "```", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------ the results


# the command that wrote a file, where the file does not record it (the scripts' own usage lines)
COMMANDS = {
    "classify.json": "python scripts/bench_classify.py --output benchmarks/classify.json",
    "classify-3-candidates.json": "python scripts/bench_classify.py (the script with its first three candidates)",
    "forecast-airline.json": "python scripts/bench_forecast.py --part airline --output benchmarks/forecast-airline.json",
    "forecast-uschange.json": "python scripts/bench_forecast.py --part uschange --output benchmarks/forecast-uschange.json",
    "translate.json": "python scripts/bench_translate.py --part dates; "
                      "python scripts/bench_translate.py --part tatoeba --tokenizers bpe,char --tatoeba-minutes 10; "
                      "python scripts/bench_translate.py --part tatoeba --tokenizers bpe --vocab-size 1000 "
                      "--tatoeba-minutes 15; python scripts/bench_translate.py --part dates --dates-minutes 3 (and 2)",
    "inspect-shakespeare.json": "python scripts/bench_inspect.py checkpoints/shakespeare/best.pt",
}


TITLES = {"translate.json": "translation: dates, and Tatoeba English to Portuguese"}


def _number(value, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1e4:
            return f"{value:,.0f}"
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:,.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}g}"
    return str(value)


def _machine(data: dict) -> str:
    machine = data.get("machine", {})
    parts = [machine.get("cpu") or (machine.get("device") if machine.get("device") not in (None, "cpu") else None)]
    cores = machine.get("cores") or machine.get("cpu_count")
    parts.append(f"{cores} cores" if cores else None)
    threads = machine.get("threads") or machine.get("threads_per_shape")
    parts.append(f"{threads} thread{'s' if threads != 1 else ''}" if threads else None)
    parts.append(f"torch {machine['torch']}" if machine.get("torch") else None)
    parts.append(machine.get("note"))
    if machine.get("clock"):
        parts.append(f"clock: {machine['clock']}" if machine["clock"] not in ("cpu",) else "budgets in CPU time")
    return "; ".join(p for p in parts if p) or machine.get("platform", "not recorded")


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(_markdown(str(cell)) if not isinstance(cell, (int, float)) else _number(cell)
                              for cell in row) + " |" for row in rows]
    return out + [""]


def _quality(data):
    arms = data["arms"]
    rows = [[name, arm.get("precision", "-"), arm["steps"], arm.get("best_val_loss", arm.get("best_val_loss_16_streams"))]
            for name, arm in arms.items()]
    return _table(["arm (`plain`: the reference nn.LSTM loop)", "precision", "steps",
                   "best validation loss, nats/char"], rows)


def _recipe(data):
    rows = [[f"{r['batch_size']} × {r['bptt']}", r["steps"], r["tokens"], r["best_val_loss"]] for r in data["results"]]
    return _table(["streams × bptt", "steps", "tokens", "best validation loss, nats/char"], rows)


def _jsb(data):
    rows = [[name, value] for name, value in data["published_test_nll_per_frame"].items()]
    rows += [[f"{name} here ({arm['steps']:,} steps)", arm["test_nll_per_frame"]] for name, arm in data["arms"].items()]
    return _table(["model (test split, nats per frame, lower is better)", "NLL"], rows)


def _forecast(data):
    metrics = ["rmse", "mae", "mape", "mase"]
    rows = [[name, *[arm["median"][m] for m in metrics]] for name, arm in data["lstm"].items()]
    rows += [[name, *[values[m] for m in metrics]] for name, values in data["baselines"].items()]
    return _table(["forecast of the held-out tail (LSTM: median of seeds)", "RMSE", "MAE", "MAPE %", "MASE"], rows)


def _classify(data):
    rows = []
    for name, entry in data["datasets"].items():
        published = entry.get("published", {})
        published = ", ".join(f"{k} {v}" for k, v in published.items()) if isinstance(published, dict) else published
        rows.append([name, entry["median"]["accuracy"], entry["median"].get("macro_f1", "-"),
                     ", ".join(f"{k}={v}" for k, v in entry["chosen"].items()) or "defaults", published])
    return _table(["data set (archive's train / test split)", "accuracy (median of seeds)", "macro-F1",
                   "setting chosen on the training file", "published accuracy"], rows)


def _translate(data):
    rows = []
    for name, run in data.items():
        if not isinstance(run, dict) or "test" not in run:
            continue
        config = run["config"]
        for decoding in ("greedy", "beam5"):
            test = run["test"].get(decoding)
            if test:
                rows.append([name, config.get("tokenizer"), config.get("max_time"), run["steps"], decoding,
                             test["exact_match"], test["bleu"], test["chrf"]])
    return _table(["run", "tokens", "minutes", "steps", "decoding", "exact %", "BLEU", "chrF"], rows)


def _flat(data, key="results"):
    """Any file whose results are named entries of numbers: one row per entry and figure."""
    rows = []

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                if k in ("history", "runs", "every_round", "every_round_tokens_per_s", "ranking", "shape"):
                    continue
                walk(f"{prefix} / {k}" if prefix else k, v)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append([prefix.replace("_", " "), value])

    skip = ("benchmark", "command", "date", "machine", "protocol")
    walk("", data[key] if key in data else {k: v for k, v in data.items() if k not in skip})
    return _table(["figure", "value"], rows)


def _chorales(data):
    generated, test = data["against_test_split"]["generated"], data["against_test_split"]["corpus"]
    whole = data["whole_corpus"]
    names = [k for k, v in generated.items() if isinstance(v, (int, float)) and k in test]
    rows = [[k.replace("_", " "), generated[k], test[k], whole.get(k, "-")] for k in names]
    return _table(["statistic (per piece)", "generated", "test split", "whole corpus"], rows)


def _inspect(data):
    rows = [[feature, data["trained"]["best_abs_r_per_feature"].get(feature, "-"), r]
            for feature, r in data["untrained_baseline"]["best_abs_r_per_feature"].items()]
    return _table(["feature", "best unit's correlation (absolute), trained", "the same, untrained network (reference)"], rows)


def _renderer(name: str):
    for prefix, function in (("quality", _quality), ("recipe", _recipe), ("jsb", _jsb), ("forecast", _forecast),
                             ("classify", _classify), ("translate", _translate), ("chorales", _chorales), ("inspect", _inspect)):
        if name.startswith(prefix):
            return function
    return _flat


def results_page(root: Path = ROOT) -> str:
    lines = ["# Results", "",
             "Generated from `benchmarks/*.json` when the site is built: a re-run of a benchmark script rewrites its "
             "file, and this page with it. Each section gives the figures, the reference they are measured against "
             "(a baseline run in the same script, or published figures), the command that made them, the date and "
             "the machine. What the figures mean, and how each benchmark is set up, is in the "
             "[guides](guides/text.md) and in [Develop → benchmarks](develop/benchmarks.md).", ""]
    for path in sorted((root / "benchmarks").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        title = data.get("benchmark") or data.get("what") or TITLES.get(path.name, path.stem.replace("-", " "))
        title = re.sub(r" \(BENCHMARKS\.md[^)]*\)", "", title)
        lines += [f"## {_markdown(title[:1].upper() + title[1:])} ({path.name})", ""]
        if data.get("protocol"):
            lines += [_markdown(data["protocol"][:1].upper() + data["protocol"][1:]) + ".", ""]
        try:
            lines += _renderer(path.name)(data)
        except (KeyError, TypeError, AttributeError):
            lines += _flat(data)
        command = data.get("command") or COMMANDS.get(path.name, "not recorded")
        date = str(data.get("date", "not recorded")).replace("T", " ")
        lines += [f"- command: `{command}`", f"- date: {date}", f"- machine: {_markdown(_machine(data))}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print({"reference": command_reference, "results": results_page}[sys.argv[1]]())
