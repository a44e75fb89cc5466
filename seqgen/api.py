"""The Python API: `seqgen.train(task, **options)` and `seqgen.load(path)`. The command line is a thin
layer over these two; options have the names and defaults of the flags (both come from the same
config dataclasses) and a mistake raises SeqgenError with the line the command line prints."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable, Optional

from seqgen.checkpoint import load_checkpoint, resolve_checkpoint
from seqgen.config import build, flag
from seqgen.distributed import launched
from seqgen.errors import SeqgenError
from seqgen.tasks import TASKS, get_task, train_function
from seqgen.threads import check_threads
from seqgen.training import stop_on_signals


def split_options(task: str, options: dict) -> list:
    """The task's configs built from option values; an option the task does not have is an error."""
    package = get_task(task)
    owned = {}
    for cls in package.CONFIGS:
        for field in dataclasses.fields(cls):
            owned.setdefault(field.name, cls)
    unknown = sorted(set(options) - set(owned))
    if unknown:
        others = [t for t in TASKS if t != task and set(unknown) <= options_of_task(t)]
        hint = f" (they belong to --task {others[0]})" if others else ""
        raise SeqgenError(f"{', '.join(flag(n) for n in unknown)} {'does' if len(unknown) == 1 else 'do'} not apply "
                          f"to --task {task}{hint}")
    return [build(cls, {k: v for k, v in options.items() if owned[k] is cls}) for cls in package.CONFIGS]


def options_of_task(task: str) -> set:
    return {f.name for cls in get_task(task).CONFIGS for f in dataclasses.fields(cls)}


def train(task: str = "language-model", *, resume: Optional[str] = None, progress: bool = True,
          should_stop: Optional[Callable[[], bool]] = None, **options):
    """Train a model of `task` (see seqgen.tasks.TASKS) with the options of `seqgen train --task TASK`.

    With `resume` (a latest.pt or its run folder) the run continues exactly; `options` may then only
    extend or watch it (max_steps, epochs, max_time, patience, eval_interval, log_interval, device).
    Ctrl-C (or a notebook's interrupt) saves latest.pt and returns. The result names the run folder
    (`run_dir`), `best_path` and `latest_path`.
    """
    package = get_task(task)
    if launched() and not getattr(package, "DATA_PARALLEL", False):
        raise SeqgenError(f"--task {task} trains in one process; run it without torchrun (data-parallel training "
                          "is for language models and translation)")
    guard = stop_on_signals() if should_stop is None else contextlib.nullcontext(should_stop)
    if resume is not None:
        unknown = sorted(set(options) - options_of_task(task))
        if unknown:
            raise SeqgenError(f"{', '.join(flag(n) for n in unknown)} do(es) not apply to --task {task}")
        with guard as stop:
            return train_function(task)(*[cls() for cls in package.CONFIGS], resume=resume, overrides=options,
                                 should_stop=stop, progress=progress)
    configs = split_options(task, options)
    with guard as stop:
        return train_function(task)(*configs, should_stop=stop, progress=progress)


def load(path, device: str = "auto", threads: Optional[int] = None):
    """Any task's checkpoint (a file, or a run folder for its best.pt) as that task's model object:
    LanguageModel (generate, write, evaluate), Translator (translate, evaluate), Forecaster
    (forecast, evaluate) or Classifier (classify, evaluate). `threads` fixes the CPU threads its verbs
    compute with; by default seqgen.threads.ThreadPolicy chooses."""
    check_threads(threads)
    path = resolve_checkpoint(path)
    task = load_checkpoint(path)["task"]
    if task not in TASKS:
        raise SeqgenError(f"{path} is a {task!r} checkpoint, a task this seqgen does not know; upgrade seqgen")
    return get_task(task).load(path, device, threads)
