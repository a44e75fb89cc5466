"""The documentation: the site builds strictly, its generated pages say what the code and the benchmark files say,
the guides need nothing outside seqgen, and the source distribution holds what its tests and docs need."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import run

from seqgen.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]
MKDOCS_ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's notice about its successor


def hooks():
    spec = importlib.util.spec_from_file_location("seqgen_docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def plain(markdown: str) -> str:
    """Markdown escapes undone and whitespace collapsed, to compare with --help's text."""
    text = markdown.replace("\\[", "[").replace("\\*", "*").replace("\\_", "_").replace("&lt;", "<")
    return " ".join(text.replace("\\\\", "\\").split())


def options_and_defaults(help_text: str) -> tuple[set, list]:
    flags = set(re.findall(r"^\s+(?:-\w, )?(--[a-z][\w-]*)(?: / (--[a-z][\w-]*))?", help_text, re.M))
    flags = {f for pair in flags for f in pair if f}
    defaults = re.findall(r"\[default: [^\]]*\]", " ".join(help_text.split()))
    return flags, defaults


def sections(reference: str, level: str) -> dict:
    parts = re.split(rf"^{level} ", reference, flags=re.M)[1:]
    return {part.split("{#")[0].strip(): part for part in parts}


def help_of(*args) -> str:
    result = run(*args, "--help")
    assert result.exit_code == 0, result.output
    return result.output


def test_the_reference_lists_every_option_and_default_of_every_help():
    from seqgen.cli import cli

    reference = hooks().command_reference()
    commands = sections(reference, "##")
    cases = [(name, commands[f"seqgen {name}"], (name,)) for name in cli.commands if name != "train"]
    train = sections(commands["seqgen train"], "###")
    cases += [(f"train --task {task}", train[f"seqgen train --task {task}"], ("train", "--task", task)) for task in TASKS]
    assert len(cases) == len(cli.commands) - 1 + len(TASKS)
    for name, text, args in cases:
        flags, defaults = options_and_defaults(help_of(*args))
        assert flags and defaults or name == "corpora", name
        options = "\n".join(line for line in text.splitlines() if line.startswith("- `"))
        missing = [f for f in flags if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", options)]
        assert not missing, f"seqgen {name}: {missing} in --help, not in the reference"
        shown = plain(text).replace(" ", "")  # click wraps --help's lines at spaces and after hyphens
        assert not [d for d in defaults if d.replace(" ", "") not in shown], name


def test_the_reference_has_no_option_that_help_lacks():
    reference = hooks().command_reference()
    train = sections(sections(reference, "##")["seqgen train"], "###")
    for task in TASKS:
        flags, _ = options_and_defaults(help_of("train", "--task", task))
        listed = set(re.findall(r"^- `(--[a-z][\w-]*)", train[f"seqgen train --task {task}"], re.M))
        assert listed <= flags | {"--help"}, task


def test_the_results_page_shows_every_benchmark_file_with_its_command_date_and_machine():
    page = hooks().results_page()
    for path in sorted((ROOT / "benchmarks").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        part = page[page.index(f"({path.name})"):]
        part = part[:part.find("\n## ") if "\n## " in part else None]
        assert "- command: `python scripts/" in part, path.name
        assert "| --- |" in part, path.name  # a table of figures
        if "date" in data:
            assert str(data["date"]).replace("T", " ") in part, path.name
        if "command" in data:
            assert data["command"] in part, path.name


def test_the_results_page_follows_the_files(tmp_path):
    """A re-run of a benchmark rewrites its file; the page shows the new figures."""
    (tmp_path / "benchmarks").mkdir()
    data = json.loads((ROOT / "benchmarks" / "jsb.json").read_text(encoding="utf-8"))
    data["arms"]["seqgen"]["test_nll_per_frame"] = 3.21
    data["date"] = "2030-01-02T03:04:05"
    (tmp_path / "benchmarks" / "jsb.json").write_text(json.dumps(data), encoding="utf-8")
    page = hooks().results_page(tmp_path)
    assert "| 3.21 |" in page and "2030-01-02 03:04:05" in page


def test_the_develop_pages_list_every_module_and_contract():
    module = hooks()
    layout, contracts = module.layout(), module.contracts()
    for path in (ROOT / "seqgen").rglob("*.py"):
        if path.name not in ("__init__.py", "__main__.py"):
            assert f"`{path.relative_to(ROOT).as_posix()}`" in layout
    assert contracts.count("- **") == sum(1 for line in (ROOT / "setup.cfg").read_text().splitlines()
                                          if line.startswith("[importlinter:contract:"))


def test_guides_and_first_pages_use_no_data_from_beside_the_repository():
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "docs" / "guides").glob("*.md")]
    for page in pages:
        code = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", page.read_text(encoding="utf-8"), re.S))
        assert "../shared" not in code, page.name


def test_the_package_index_page_has_no_relative_images():
    """setup.cfg's long description is DESCRIPTION.md: the README's picture is a relative link, which a package
    index cannot show."""
    setup = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    assert re.search(r"^long_description = file: DESCRIPTION.md$", setup, re.M)
    description = (ROOT / "DESCRIPTION.md").read_text(encoding="utf-8")
    assert not re.search(r"!\[[^\]]*\]\((?!https://)", description)
    assert not re.search(r"\]\((?!https?://)[^)#]+\)", description)  # no relative link at all
    assert "--index-url https://download.pytorch.org/whl/cpu" in description


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, env=MKDOCS_ENV)
    assert result.returncode == 0, result.stderr[-4000:]
    assert not re.search(r"^WARNING", result.stderr, re.M), result.stderr[-4000:]
    built = {p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("index.html")}
    for page in ("reference/commands/index.html", "reference/api/index.html", "results/index.html",
                 "changelog/index.html", "guides/lstm/index.html", "develop/adding-a-task/index.html"):
        assert page in built
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    assert "LanguageModel" in api and "Classifier" in api and "doc-function" in api


@pytest.mark.slow
def test_a_broken_link_fails_the_strict_build(tmp_path):
    pytest.importorskip("material")
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs")
    for name in ("mkdocs.yml", "setup.cfg", "CHANGELOG.md"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(ROOT / "benchmarks", copy / "benchmarks")
    shutil.copytree(ROOT / "seqgen", copy / "seqgen", ignore=shutil.ignore_patterns("__pycache__"))
    page = copy / "docs" / "guides" / "text.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nSee [nowhere](no-such-page.md).\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=copy, capture_output=True, text=True, timeout=300, env=MKDOCS_ENV)
    assert result.returncode != 0 and "no-such-page.md" in result.stderr


@pytest.mark.slow
def test_the_source_distribution_holds_the_tests_docs_and_lint_configuration(tmp_path):
    """An sdist whose tests run: every test file and its data, the docs, the lint and layer configuration."""
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-c", f"import setuptools.build_meta as b; b.build_sdist({str(out)!r})"],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    (archive,) = out.glob("seqgen-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    wanted = {"LICENSE", "CHANGELOG.md", "README.md", "DESCRIPTION.md", "setup.cfg", "pyproject.toml", "ruff.toml",
              "mkdocs.yml", "docs/hooks.py", "docs/index.md", "seqgen/data/airline.csv"}
    wanted |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and ".hypothesis" not in p.parts}
    wanted |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md")}
    wanted |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "benchmarks").glob("*.json")}
    assert not sorted(wanted - names)


def test_every_relative_link_of_the_readme_exists():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(((?!https?://)[^)#\s]+)\)", text)
    assert targets and not [t for t in targets if not (ROOT / t).exists()]


@pytest.mark.slow
def test_the_checkpoint_format_page_names_the_keys_a_checkpoint_has(tmp_path):
    """The keys every checkpoint has, and those of a step-based task's loop, as the reference page lists them."""
    import torch

    import seqgen

    page = (ROOT / "docs" / "reference" / "checkpoint.md").read_text(encoding="utf-8")
    tables = re.findall(r"\| key \| what \|\n\| --- \| --- \|\n((?:\|.*\n)+)", page)
    keys = {key for table in tables for row in table.splitlines() for key in re.findall(r"`(\w+)`", row.split("|")[1])}
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 40, encoding="utf-8")
    result = seqgen.train(corpus=str(corpus), max_steps=2, eval_interval=2, hidden_size=8, embedding_dim=8,
                          num_layers=1, batch_size=2, bptt=8, eval_batch_size=2, device="cpu", progress=False,
                          output_dir=str(tmp_path / "runs"))
    payload = torch.load(result.latest_path, weights_only=True)
    assert len(tables) == 2 and {"format", "task", "model_state", "optimizer_state", "history"} <= keys
    assert not sorted(keys - set(payload))


def test_every_data_set_named_in_the_readme_and_the_docs_is_one_seqgen_knows():
    """A guide's `--corpus NAME` / `--test NAME` / `--pairs NAME` runs for someone without this repository: each
    bare name (no path) is a corpus `seqgen corpora` lists."""
    listed = set(re.findall(r"^(\S+)\s", run("corpora").stdout, re.M)) - {"name"}
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    named = set()
    for page in pages:
        for block in re.findall(r"```[a-z]*\n(.*?)```", page.read_text(), re.S):
            for option, value in re.findall(r"--(corpus|test|pairs)[ =]([^\s`]+)", block):
                if re.fullmatch(r"[a-z][a-z0-9-]*", value):  # a name, not a file or a placeholder
                    named.add((page.name, option, value))
    assert {value for _, _, value in named} >= {"ecg200", "uschange", "tatoeba-en-pt", "jsb-chorales"}
    unknown = sorted(item for item in named if item[2] not in listed)
    assert not unknown, unknown
