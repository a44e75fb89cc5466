"""The README's and the Getting started page's commands run as printed, and their Python example verbatim, on a
fresh run folder: what a newcomer types first works. Training commands run with a tiny budget (their
--max-steps, --max-time or --epochs replaced by a few steps); every other word is as printed."""

import re
import shlex
from pathlib import Path

import pytest
from conftest import run

import seqgen

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GETTING_STARTED = ROOT / "docs" / "getting-started.md"
BUDGETS = {"--max-steps", "--max-time", "--epochs"}


def section(path: Path, heading: str) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def blocks(text: str, language: str = "") -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def api_example(path: Path = README) -> str:
    heading = "Python API" if path == README else "From Python"
    return blocks(section(path, heading), "python")[0]


def commands(path: Path, *headings: str) -> list[list[str]]:
    """The seqgen command lines of the first code block under each heading (comments removed)."""
    lines = []
    for heading in headings:
        for line in blocks(section(path, heading))[0].splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["seqgen"]:
                lines.append(words[1:])
    return lines


def tiny(words: list[str]) -> list[str]:
    """A training command with a budget of a few steps (a resumed run: a few more than it has)."""
    if words[:1] != ["train"]:
        return words
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in BUDGETS:
            skip = True
        else:
            kept.append(word)
    return kept + ["--max-steps", "6" if "--resume" in words else "3"]


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """A new working folder and an empty seqgen cache, as on a machine that never ran seqgen."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_the_readme_and_getting_started_show_the_same_python_example():
    assert api_example(README) == api_example(GETTING_STARTED)


def test_the_set_up_commands_are_those_ci_runs():
    """.ci/run installs seqgen and runs the tests exactly as the README and Getting started say."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for path, heading in ((README, "Install"), (GETTING_STARTED, "Install")):
        setup = blocks(section(path, heading))[0]
        assert 'pip install -e ".[test]"' in setup and 'pip install -q -e ".[test]"' in ci
        assert "--index-url https://download.pytorch.org/whl/cpu" in setup  # the CPU wheel, said
    assert re.search(r"^pytest -q ", ci, re.M)
    assert re.search(r"^pytest ", blocks(section(README, "Train, sample, test"))[1], re.M)


@pytest.mark.slow
def test_the_readme_commands_run_as_written(fresh):
    for words in commands(README, "Train, sample, test"):
        result = run(*tiny(words))
        assert result.exit_code == 0, (words, result.output)
    assert "LADY SUSAN" in run(*commands(README, "Train, sample, test")[1]).output


@pytest.mark.slow
def test_the_getting_started_commands_run_as_written(fresh):
    lines = commands(GETTING_STARTED, "A first model", "Sample and evaluate", "Stop and resume")
    assert [w[0] for w in lines] == ["corpora", "train", "sample", "sample", "evaluate", "train", "train"]
    for words in lines:
        result = run(*tiny(words))
        assert result.exit_code == 0, (words, result.output)
        if words[0] == "evaluate":
            assert "perplexity" in result.output
    assert seqgen.load(fresh / "checkpoints" / "first" / "latest.pt").payload["step"] == 6  # the resume continued


@pytest.mark.slow
def test_the_readme_python_example_runs_as_shown(fresh, capsys):
    namespace = {}
    exec(compile(api_example(), "README.md", "exec"), namespace)

    printed = capsys.readouterr().out
    assert printed.startswith("LADY SUSAN") and "perplexity" in printed
    assert "(2, 31, 256)" in printed  # the gates of the 2×256 model over the 31 characters read
    run_ = namespace["run"]
    assert run_.step == 500 and namespace["model"].task == "language-model"
    assert (fresh / run_.run_dir).parent == fresh / "checkpoints"
    resumed = seqgen.load(run_.latest_path)
    assert resumed.payload["step"] == 600  # the resume in the example continued the same run
