"""The Python API: `seqgen.train(task, **options)` and `seqgen.load(path)`. The command line is a thin
layer over these two; options have the names and defaults of the flags (both come from the same
config dataclasses) and a mistake raises SeqgenError with the line the command line prints."""

from __future__ import annotations

import contextlib
from typing import Callable, Optional

from seqgen.checkpoint import load_checkpoint, resolve_checkpoint
from seqgen.config import build, check, flag, option_names, read_config_file
from seqgen.distributed import launch_rank, launched
from seqgen.errors import SeqgenError
from seqgen.runs import note_outcome
from seqgen.tasks import DEFAULT_TASK, TASKS, get_task, train_function
from seqgen.threads import check_threads
from seqgen.training import stop_on_signals


def split_options(task: str, options: dict) -> list:
    """The task's configs built from option values; an option the task does not have is an error. Each option
    has one owner among the task's configs (tests/test_api.py holds every task to it)."""
    package = get_task(task)
    owned = {name: cls for cls in package.CONFIGS for name in option_names(cls)}
    unknown = sorted(set(options) - set(owned))
    if unknown:
        others = [t for t in TASKS if t != task and set(unknown) <= options_of_task(t)]
        hint = f" (they belong to --task {others[0]})" if others else ""
        raise SeqgenError(f"{', '.join(flag(n) for n in unknown)} {'does' if len(unknown) == 1 else 'do'} not apply "
                          f"to --task {task}{hint}")
    return [build(cls, {k: v for k, v in options.items() if owned[k] is cls}) for cls in package.CONFIGS]


def options_of_task(task: str) -> set:
    return {name for cls in get_task(task).CONFIGS for name in option_names(cls)}


def task_of_run(resume, task: Optional[str] = None) -> str:
    """The task of the run that `resume` (a latest.pt or its run folder) continues; a `task` named beside it
    that is not the run's own is one line."""
    path = resolve_checkpoint(resume, "latest.pt")
    found = load_checkpoint(path, mmap=True)["task"]
    if found not in TASKS:
        raise SeqgenError(f"{path} is a {found!r} checkpoint, a task this seqgen does not know; upgrade seqgen")
    if task is not None and task != found:
        raise SeqgenError(f"{path} is a {found} checkpoint, not a {task} one; leave out --task {task} (a resumed run "
                          "keeps the task it was trained for)")
    return found


def tasks_that(attribute: str) -> list[str]:
    """The tasks whose package sets `attribute` (SHOWS_SAMPLES, DATA_PARALLEL) true."""
    return [name for name in TASKS if getattr(get_task(name), attribute, False)]


def train(task: Optional[str] = None, *, resume=None, config=None, sample_length: Optional[int] = None,
          quiet: bool = False, progress: bool = True, should_stop: Optional[Callable[[], bool]] = None, **options):
    """Train a model of `task` (see seqgen.tasks.TASKS; default seqgen.tasks.DEFAULT_TASK) with the options of
    `seqgen train --task TASK`, and every flag of that command: `config` (a TOML file of options, which the
    keywords given here override), `resume`, `sample_length` and `quiet` (or progress=False).

    With `resume` (a latest.pt or its run folder) the run continues exactly, as the task it was trained
    for; `options` may then only extend or watch it (max_steps, epochs, max_time, patience, eval_interval,
    log_interval, device). Ctrl-C (or a notebook's interrupt) saves latest.pt and returns. The result names
    the run folder (`run_dir`), `best_path` and `latest_path`; with `sample_length` N, its `sample` holds what
    `seqgen train` shows at the end (a language model: N tokens sampled from the best model, or the files of
    a music sample; translate: N test examples, at most 5), which the Python API leaves out by default.
    """
    if config is not None:
        given = {"task": task, "resume": resume, "sample_length": sample_length}
        from_file = read_config_file(check("--config", config, str, path=True))
        if "config" in from_file:
            raise SeqgenError(f"--config {config} sets config; a configuration file cannot name another")
        task, resume, sample_length = (given[name] if given[name] is not None else from_file.pop(name, None)
                                       for name in ("task", "resume", "sample_length"))
        quiet = quiet or check("quiet", from_file.pop("quiet", False), bool)
        options = {**from_file, **options}
    resume = check("--resume", resume, str, optional=True, path=True)
    sample_length = check("--sample-length", sample_length, int, optional=True, min=0)
    progress, quiet = check("progress", progress, bool), check("quiet", quiet, bool)
    progress = progress and not quiet
    if should_stop is not None and not callable(should_stop):
        raise SeqgenError(f"should_stop must be a function of no arguments that says when to stop, not {should_stop!r}"
                          [:200])
    if resume is not None:
        task = task_of_run(resume, task)
    package = get_task(DEFAULT_TASK if task is None else task)
    task = package.NAME
    if sample_length and not getattr(package, "SHOWS_SAMPLES", False):
        raise SeqgenError(f"--sample-length does not apply to --task {task} (only --task "
                          f"{' or '.join(tasks_that('SHOWS_SAMPLES'))} shows samples)")
    if launched() and not getattr(package, "DATA_PARALLEL", False):
        raise SeqgenError(f"--task {task} trains in one process; run it without torchrun (data-parallel training "
                          f"is for --task {' or '.join(tasks_that('DATA_PARALLEL'))})")
    guard = stop_on_signals() if should_stop is None else contextlib.nullcontext(should_stop)
    if resume is not None:
        unknown = sorted(set(options) - options_of_task(task))
        if unknown:
            raise SeqgenError(f"{', '.join(flag(n) for n in unknown)} do(es) not apply to --task {task}")
        with guard as stop:
            result = train_function(task)(*[cls() for cls in package.CONFIGS], resume=resume, overrides=options,
                                          should_stop=stop, progress=progress)
    else:
        configs = split_options(task, options)
        with guard as stop:
            result = train_function(task)(*configs, should_stop=stop, progress=progress)
    if launch_rank() == 0 and getattr(result, "stop_reason", None) and getattr(result, "run_dir", None):
        note_outcome(result.run_dir, result.stop_reason)
    if sample_length and result.stop_reason != "interrupted" and launch_rank() == 0:
        result.sample = package.training_sample(result.best_path, sample_length)
    return result


def load(path, device: str = "auto", threads: Optional[int] = None):
    """Any task's checkpoint (a file, or a run folder for its best.pt) as that task's model object:
    LanguageModel (generate, write, evaluate), Translator (translate, evaluate), Forecaster
    (forecast, evaluate) or Classifier (classify, evaluate). `threads` fixes the CPU threads its verbs
    compute with; by default seqgen.threads.ThreadPolicy chooses."""
    check_threads(threads)
    path = resolve_checkpoint(path)
    task = load_checkpoint(path, mmap=True)["task"]
    if task not in TASKS:
        raise SeqgenError(f"{path} is a {task!r} checkpoint, a task this seqgen does not know; upgrade seqgen")
    return get_task(task).load(path, device, threads)
