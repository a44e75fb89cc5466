"""Lines the tasks share come from one place: the interrupted-ensemble line, and what only some tasks do,
named from the registry."""

from types import SimpleNamespace

import pytest

import seqgen
from seqgen.errors import SeqgenError
from seqgen.tasks import TASKS, get_task, presentation


@pytest.mark.parametrize("task", ["forecast", "classify", "remaining-life"])
def test_an_interrupted_ensemble_says_how_far_it_got_and_which_file_resumes_it(task, capsys):
    result = SimpleNamespace(stop_reason="interrupted", members_done=2, ensemble=5, latest_path="runs/x/latest.pt")
    presentation(task).report_training(result)
    assert capsys.readouterr().err == "Trained 2 of 5 networks; the full state is in runs/x/latest.pt.\n"


def test_sample_length_for_a_task_without_samples_names_the_tasks_that_have_them():
    showing = [t for t in TASKS if getattr(get_task(t), "SHOWS_SAMPLES", False)]
    quiet = next(t for t in TASKS if t not in showing)
    with pytest.raises(SeqgenError) as error:
        seqgen.train(quiet, sample_length=3)
    message = str(error.value)
    assert "\n" not in message and f"--task {quiet}" in message
    assert all(f"--task {t}" in message or f"or {t}" in message for t in showing)
