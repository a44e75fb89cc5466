"""The shape of the package holds: layers never import upward (import-linter contracts in setup.cfg),
ruff is clean, every task has the same files, and the registry is the one list of tasks."""

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seqgen.tasks import TASKS, get_task, train_function

ROOT = Path(__file__).resolve().parents[1]


def test_layer_contracts_hold():
    linter = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([linter], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


def test_ruff_is_clean():
    pytest.importorskip("ruff")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


@pytest.mark.parametrize("task", TASKS)
def test_every_task_is_a_folder_with_the_same_files(task):
    package = get_task(task)
    folder = Path(package.__file__).parent
    assert {"config.py", "data.py", "train.py", "evaluate.py"} <= {p.name for p in folder.glob("*.py")}
    assert package.NAME == task and callable(train_function(task)) and callable(package.load)
    assert all(dataclasses.is_dataclass(cls) for cls in package.CONFIGS)


def test_the_command_line_names_no_task():
    """cli/ knows the tasks only through the registry: no task's name, spelled any way, and no task's package
    (each task's present.py says what the command line shows of it), so a new task is its folder and one line."""
    spellings = {spelling for task in TASKS for spelling in
                 (task, task.replace("-", "_"), task.replace("-", " "), get_task(task).__name__.rsplit(".", 1)[-1])}
    found = [f"{path.name}:{number}: {spelling}" for path in sorted((ROOT / "seqgen" / "cli").glob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             for spelling in sorted(spellings) if spelling in line.lower()]
    assert not found, found


@pytest.mark.parametrize("task", TASKS)
def test_every_task_says_what_the_command_line_shows_of_it(task):
    from seqgen.tasks import presentation

    shown = presentation(task)
    assert all(callable(getattr(shown, name)) for name in ("report_training", "print_evaluation", "inspect_input"))
    assert all(isinstance(getattr(shown, name), str) for name in ("TASK_HELP", "EVALUATE_HELP", "INSPECT_READS"))
    assert getattr(get_task(task), "SHOWS_SAMPLES", False) == hasattr(shown, "show_sample")
