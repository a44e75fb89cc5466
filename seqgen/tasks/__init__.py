"""What seqgen learns: TASKS, the one list. Each task is a folder here with the same files

    config.py    its options (dataclasses; the flags, defaults and help of `seqgen train --task T`)
    data.py      reading its corpus into splits and batches
    train.py     `train(...)`: build the model, run the loop, write the run folder
    <verb>.py    the loaded model object and its verb (generate, translate, forecast, classify)
    evaluate.py  held-out figures
    present.py   what the command line shows of it: the help it adds to the shared commands, what
                 `seqgen train` and `seqgen evaluate` print, what `seqgen inspect` reads, and COMMANDS,
                 the commands of its own (in commands.py)

and an `__init__.py` naming NAME, SUMMARY, CONFIGS and load. A new task is a folder and one line below
(the first line is the default task, DEFAULT_TASK). The command line knows the tasks only through this list.
"""

from __future__ import annotations

import importlib

from seqgen.errors import SeqgenError

_PACKAGES = {
    "language-model": "seqgen.tasks.language_model",
    "translate": "seqgen.tasks.translate",
    "forecast": "seqgen.tasks.forecast",
    "classify": "seqgen.tasks.classify",
    "remaining-life": "seqgen.tasks.remaining_life",
    "detect": "seqgen.tasks.detect",
}
TASKS = tuple(_PACKAGES)
DEFAULT_TASK = TASKS[0]  # of `seqgen train` and seqgen.train without a task


def get_task(name: str):
    """The task's package: NAME, SUMMARY, CONFIGS and load(path, device)."""
    if not isinstance(name, str) or name not in _PACKAGES:
        raise SeqgenError(f"unknown task {name!r}; seqgen knows: {', '.join(TASKS)}")
    return importlib.import_module(_PACKAGES[name])


def train_function(name: str):
    """The task's train(*configs, resume=None, overrides=None, should_stop=None, progress=True), from its
    train.py (a package attribute named `train` would be the submodule once it is imported)."""
    return importlib.import_module(get_task(name).__name__ + ".train").train


def presentation(name: str):
    """The task's present.py: what the command line shows of it; it imports click, not torch. It holds
    TASK_HELP, EVALUATE_HELP (its words in --task's and `seqgen evaluate`'s help), report_training(result),
    print_evaluation(figures), show_sample(result) and SAMPLE_LENGTH_HELP where the task SHOWS_SAMPLES,
    INSPECT_READS, INSPECT_TEXT (what --text holds, None for none), INSPECT_INPUT_OPTIONS and
    INSPECT_MODEL_OPTIONS (click options of `seqgen inspect`, help led by the tasks they serve, or by
    INSPECT_LABEL), inspect_input(model, text, options, save_path) -> (inspection, file written or None),
    and COMMANDS, the click commands the task adds. For `seqgen serve`'s page: STUDIO_TRAIN (the options its train
    form shows first), studio_form(model) -> {"view", "title", "fields"} (what the page offers for a loaded
    model: the view it draws, one of seqgen.studio.VIEWS, its heading, and the fields of its form, see seqgen.options.form_fields),
    studio_try(model, values, folder) -> the view's data (files written only in `folder`), studio_stream(model,
    values) -> text parts where the view is "stream", and optionally studio_curves(run_json) where run.json keeps
    its curves elsewhere than in "history"."""
    return importlib.import_module(get_task(name).__name__ + ".present")


def lazy_parts(package: str, parts: dict, model: str):
    """(__getattr__, load) for a task package: `parts` maps names to the modules that define them, loaded
    on first use (they import torch; the command line lists options without it); `model` names the
    loaded-model class whose .load(path, device) is the task's load."""

    def __getattr__(attribute: str):
        if attribute in parts:
            return getattr(importlib.import_module(parts[attribute]), attribute)
        raise AttributeError(f"module {package!r} has no attribute {attribute!r}")

    def load(path, device: str = "auto", threads=None):
        """This task's model object, from a checkpoint alone (`threads`: see seqgen.threads)."""
        return __getattr__(model).load(path, device, threads)

    return __getattr__, load
