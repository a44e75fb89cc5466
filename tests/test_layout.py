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
    """cli/ and studio/ (its page included) know the tasks only through the registry: no task's name, spelled any way, in its text, comments or
    names (an attribute of something else, like click.echo, aside), and no task's package (each task's present.py
    says what the command line shows of it), so a new task is its folder and one line."""
    import io
    import re
    import tokenize

    spellings = {spelling for task in TASKS for spelling in
                 (task, task.replace("-", "_"), task.replace("-", " "), get_task(task).__name__.rsplit(".", 1)[-1])}
    pattern = re.compile("|".join(rf"(?<![a-z]){re.escape(s)}" for s in sorted(spellings)), re.IGNORECASE)
    # strings, f-strings' text (its own token since Python 3.12), comments and names
    TEXT_TOKENS = {tokenize.STRING, tokenize.COMMENT, tokenize.NAME, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    found = []
    for path in sorted((ROOT / "seqgen" / "cli").glob("*.py")) + sorted((ROOT / "seqgen" / "studio").rglob("*.*")):
        if path.suffix != ".py":  # the page's files: every word
            found += [f"{path.name}: {m.group()}" for m in pattern.finditer(path.read_text(encoding="utf-8"))]
            continue
        previous = None
        for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            attribute = token.type == tokenize.NAME and previous is not None and previous.string == "."
            if token.type in TEXT_TOKENS and not attribute:
                found += [f"{path.name}:{token.start[0]}: {m.group()}" for m in pattern.finditer(token.string)]
            if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                previous = token
    assert not found, found


@pytest.mark.parametrize("task", TASKS)
def test_every_task_says_what_the_command_line_shows_of_it(task):
    from seqgen.tasks import presentation

    shown = presentation(task)
    assert all(callable(getattr(shown, name)) for name in ("report_training", "print_evaluation", "inspect_input"))
    assert all(isinstance(getattr(shown, name), str) for name in ("TASK_HELP", "EVALUATE_HELP", "INSPECT_READS"))
    assert getattr(get_task(task), "SHOWS_SAMPLES", False) == hasattr(shown, "show_sample")


def test_no_import_circles():
    """No two seqgen modules import each other, directly or through others, counting imports inside functions:
    each loaded-model object sits over modules that never import it back."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("seqgen")
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(module):  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert not circles, "import circles: " + "; ".join(" ↔ ".join(c) for c in circles)


def test_one_plotting_backend_and_one_atomic_writer():
    """matplotlib's backend is chosen in seqgen/plots.py alone, and files are renamed into place by seqgen/files.py
    alone (music21 writing under another name inside a staged file is the one other rename)."""
    chosen, renamed = [], []
    for path in sorted((ROOT / "seqgen").rglob("*.py")):
        text, name = path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix()
        chosen += [name] * text.count("matplotlib.use(")
        renamed += [name] * (text.count("os.replace(") + text.count(".rename(") + text.count(".replace(tmp"))
    assert chosen == ["seqgen/plots.py"]
    assert set(renamed) <= {"seqgen/files.py", "seqgen/music/scores.py"}, renamed


def test_the_api_names_no_task_but_reads_the_registry():
    """seqgen/api.py holds no task's name as a value: the default task is seqgen.tasks.DEFAULT_TASK (the first line
    of the registry), and what only some tasks do (samples, torchrun) is read from their packages."""
    import ast

    from seqgen.tasks import DEFAULT_TASK

    tree = ast.parse((ROOT / "seqgen" / "api.py").read_text(encoding="utf-8"))
    named = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Constant) and node.value in TASKS]
    assert not named, f"task names at lines {named} of seqgen/api.py"
    assert DEFAULT_TASK == TASKS[0]


def test_no_function_is_longer_than_90_lines():
    import ast

    long = []
    for path in sorted((ROOT / "seqgen").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 90:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not long, long
