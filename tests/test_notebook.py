"""What a notebook user meets: a mistake is its one line, the progress bar draws without ipywidgets and
without a warning, and a run's result reads at a glance."""

import sys
import types
import warnings

import pytest

import seqgen
from seqgen.errors import SeqgenError
from seqgen.runs import RunFolder
from seqgen.training import FitResult, progress_bar


def test_ipython_shows_a_seqgen_error_as_its_one_line(tmp_path, capsys):
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    shell = interactiveshell.InteractiveShell.instance()
    try:
        capsys.readouterr()
        shell.run_cell(f"import seqgen\nseqgen.load({str(tmp_path / 'none.pt')!r})")
        shown = capsys.readouterr()
    finally:
        interactiveshell.InteractiveShell.clear_instance()
    lines = [line for line in (shown.out + shown.err).splitlines() if line.strip()]
    assert lines == [f"SeqgenError: checkpoint {tmp_path / 'none.pt'} does not exist; train one with `seqgen train`"]


def test_a_notebook_without_ipywidgets_gets_the_text_bar_and_no_warning(monkeypatch):
    from tqdm.std import tqdm

    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))  # in Jupyter
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` fails
    for name in ("tqdm.auto", "tqdm.autonotebook", "tqdm.notebook"):  # chosen afresh, as in a new kernel
        monkeypatch.delitem(sys.modules, name, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with progress_bar(10, True) as bar:
            bar.update(10)
    assert type(bar) is tqdm
    assert not caught, [str(w.message) for w in caught]


def test_a_run_result_reads_at_a_glance(tmp_path):
    history = [{"step": s, "train_loss": 2.0, "val_loss": 1.5} for s in range(5000)]
    result = FitResult(run=RunFolder(tmp_path / "run"), step=5000, best_val_loss=1.234567, stop_reason="budget",
                       history=history)
    shown = repr(result)
    assert len(shown) < 400 and "0x" not in shown and "\n" not in shown
    for part in ("step=5000", "best_val_loss=1.2346", "stop_reason='budget'", "history=<5000 entries>",
                 f"run_dir={str(tmp_path / 'run')!r}", f"best_path={str(tmp_path / 'run' / 'best.pt')!r}",
                 f"latest_path={str(tmp_path / 'run' / 'latest.pt')!r}"):
        assert part in shown, shown


def test_every_task_s_result_reads_at_a_glance(tmp_path):
    result = seqgen.train("forecast", epochs=2, ensemble=1, hidden_size=4, device="cpu", output_dir=str(tmp_path),
                          name="f", progress=False)
    shown = repr(result)
    assert shown.startswith("ForecastResult(") and "0x" not in shown and len(shown) < 400, shown
    assert "best_path=" in shown and "history=<2 entries>" in shown
    from seqgen.tasks.classify import ClassifyResult

    report = {"accuracy": 1.0, "confusion": [[3, 0], [0, 3]]}
    shown = repr(ClassifyResult(run=RunFolder(tmp_path / "c"), ensemble=3, members_done=3, epochs=40,
                                best_val_loss=0.25, stopped_early=True, report=report, test="t.txt",
                                stop_reason="patience"))
    assert "0x" not in shown and "report={...}" in shown and "epochs=40" in shown, shown


def test_a_seqgen_error_renders_as_one_line_even_from_a_long_message():
    error = SeqgenError("first part\nsecond   part")
    assert error._render_traceback_() == ["SeqgenError: first part second part"]
