"""What every training loop shares: AdamW parameter groups, warm-up and cosine schedule, random states,
divergence checks, the progress bar, Ctrl-C and the checks of a resume."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
from typing import Callable, Optional

import torch
from torch import nn

from seqgen.checkpoint import load_checkpoint, resolve_checkpoint
from seqgen.config import RESUMABLE_OVERRIDES, StepOptions, flag
from seqgen.device import resolve_device, resolve_precision
from seqgen.distributed import World
from seqgen.errors import SeqgenError
from seqgen.runs import RunFolder
from seqgen.threads import check_threads

# Parameters of these modules are never decayed: decay would pull embeddings and norm scales to zero.
NO_DECAY_MODULES = (nn.Embedding, nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)


class TrainingDiverged(SeqgenError):
    pass


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices only: never on biases, embeddings or normalisation layers,
    wherever they sit in the model (decided by module type, not by parameter name)."""
    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen:  # tied weights appear twice
                continue
            seen.add(id(param))
            exempt = isinstance(module, NO_DECAY_MODULES) or param.dim() < 2 or "bias" in name
            (no_decay if exempt else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, lr: float, weight_decay: float, device: torch.device) -> torch.optim.AdamW:
    """AdamW over `parameter_groups`; the fused kernel on CUDA."""
    return torch.optim.AdamW(parameter_groups(model, weight_decay), lr=lr, betas=(0.9, 0.99),
                             fused=device.type == "cuda")


def learning_rate(config: StepOptions, step: int, progress: float) -> float:
    """Linear warm-up over the first steps, then a cosine from --lr down to --min-lr-ratio × lr."""
    warmup = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps else 1.0
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.lr * warmup * (config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine)


def rng_state(device: torch.device) -> dict:
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and state.get("cuda") is not None:
        torch.cuda.set_rng_state(state["cuda"], device)


def check_finite(value: float, what: str, where: str, hint) -> None:
    """Stop a run whose loss is no longer a number, saying where and what to change (`hint`: text, or a
    function giving it, called only then)."""
    if not math.isfinite(value):
        raise TrainingDiverged(f"the {what} became {value} {where}; {hint() if callable(hint) else hint}")


# A function given every bar's state instead of drawing it (`report_progress`): how `seqgen serve`'s training
# processes tell the page how far they are.
_LISTENER: Optional[Callable[[dict], None]] = None


@contextlib.contextmanager
def report_progress(listener: Callable[[dict], None]):
    """Inside the block every progress bar calls listener({"fraction": 0..1, "postfix": {name: text},
    "desc": text}) as it would redraw, and draws nothing."""
    global _LISTENER
    previous, _LISTENER = _LISTENER, listener
    try:
        yield
    finally:
        _LISTENER = previous


def progress_bar(total: float, enabled: bool, **options):
    """One bar on stderr: tqdm's notebook widget inside Jupyter when ipywidgets is there to draw it, else the
    text bar (or, inside `report_progress`, the listener)."""
    options.setdefault("bar_format", "{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]")
    if _LISTENER is not None:
        return _reporting_bar(_LISTENER)(total=total, file=open(os.devnull, "w"), **options)
    return _bar_class()(total=total, disable=not enabled, file=sys.stderr, dynamic_ncols=True, **options)


def _reporting_bar(listener: Callable[[dict], None]):
    from tqdm.std import tqdm

    class ReportingBar(tqdm):
        monitor_interval = 0  # no monitor thread

        def display(self, msg=None, pos=None):
            pairs = (part.split("=", 1) for part in (self.postfix or "").split(", ") if "=" in part)
            listener({"fraction": min(1.0, self.n / self.total) if self.total else 0.0,
                      "postfix": {key.strip(): value.strip() for key, value in pairs}, "desc": self.desc or ""})
            return True

        def close(self):
            file = self.fp
            super().close()
            file.close()

    return ReportingBar


def _bar_class():
    """tqdm.notebook's bar in a Jupyter kernel with ipywidgets, else tqdm's text bar. (tqdm.auto, without
    ipywidgets, warns into every notebook and then draws the text bar anyway.)"""
    in_kernel = "ipykernel.zmqshell" in sys.modules  # Jupyter, not a qtconsole or Spyder: they draw no widgets
    if in_kernel and not any(name == "QT_API" or name.startswith("SPYDER") for name in os.environ):
        try:
            from tqdm.notebook import IProgress, tqdm
        except ImportError:
            IProgress = None
        if IProgress is not None:
            return tqdm
    from tqdm.std import tqdm

    return tqdm


def small_network_precision(name: str, device: torch.device) -> str:
    """The precision of the small ensembles (forecast, classify): 'auto' is fp32, since networks this size
    are bound by per-call overhead, not arithmetic, and gain nothing from bf16; a forced 'bf16' applies."""
    return "fp32" if name == "auto" else resolve_precision(name, device)


class StopRequest:
    """What a training loop polls: true once Ctrl-C or SIGTERM asked it to stop. Until the loop has
    started (`arm`), there is nothing to save, so a signal interrupts at once."""

    def __init__(self):
        self.requested = False
        self.armed = False
        self.interrupted = False  # a signal came before the loop started: the run must never start training

    def __call__(self) -> bool:
        return self.requested

    def signal(self, signum, frame) -> None:
        if self.requested or not self.armed:
            self.interrupted = True
            raise KeyboardInterrupt
        self.requested = True
        print("\nStopping: saving latest.pt (press Ctrl-C again to abort at once).", file=sys.stderr, flush=True)


def arm(should_stop) -> None:
    """Tell a StopRequest the loop runs: from now on a signal asks it to save and stop. A signal that came
    before (its KeyboardInterrupt swallowed by some library on the way) stops the run here, before it trains."""
    if isinstance(should_stop, StopRequest):
        if should_stop.interrupted:
            raise KeyboardInterrupt
        should_stop.armed = True


@contextlib.contextmanager
def stop_on_signals():
    """Turn the first Ctrl-C or SIGTERM during training into a polite request (the loop saves
    latest.pt and returns within a step); a second one, or one before training starts (reading the
    corpus, building the model), interrupts at once. Yields the StopRequest the loop polls."""
    request = StopRequest()
    try:
        previous = {s: signal.signal(s, request.signal) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread (e.g. a notebook worker): no handlers, nothing to restore
        yield request
        return
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def load_to_use(path, task: str, device, threads) -> tuple:
    """(file, payload, device, threads) of a `task` checkpoint (a file or its run folder) a model is rebuilt
    from: `threads` checked, `device` resolved, the checkpoint found and loaded, each refused in one line."""
    threads = check_threads(threads)
    path = resolve_checkpoint(path)
    device = resolve_device(device)
    return path, load_checkpoint(path, task=task), device, threads


def load_finished(path, task: str) -> tuple:
    """(file, payload) of an ensemble checkpoint that holds a finished run; the latest.pt of a run still in
    progress is one line saying how to finish it."""
    path = resolve_checkpoint(path)
    payload = load_checkpoint(path, task=task)
    state = payload.get("train_state")
    if isinstance(state, dict) and state.get("complete") is False:
        raise SeqgenError(f"{path} is the state of an unfinished run ({state.get('member')} of "
                          f"{(payload.get('train_config') or {}).get('ensemble')} networks trained); finish it with "
                          f"`seqgen train --task {task} --resume {path}`")
    return path, payload


def refuse_finished(path, payload: dict, task: str) -> None:
    """An ensemble run whose every network is trained has nothing to continue: one line, and nothing rewritten."""
    state = payload.get("train_state")
    if isinstance(state, dict) and state.get("complete") is True:
        networks = (payload.get("train_config") or {}).get("ensemble", state.get("member"))
        raise SeqgenError(f"{path} is a finished {task} run (all {networks} networks trained) and resuming it has "
                          "nothing to do; start a new run with another --name (or --overwrite to replace this one)")


def resume_point(path, task: str, overrides: Optional[dict] = None, allowed=RESUMABLE_OVERRIDES) -> tuple:
    """(file, payload) of the checkpoint a run resumes from: a latest.pt or its run folder. Options other
    than `allowed` cannot change. A file that is an older state of its run than the latest.pt beside it
    (e.g. best.pt) is refused: resuming it would overwrite the newer state."""
    if "overwrite" in (overrides or {}):
        raise SeqgenError("--overwrite is for a new run; --resume continues the run in its own folder (leave "
                          "out --overwrite)")
    fixed = sorted(set(overrides or {}) - set(allowed))
    if fixed:
        raise SeqgenError(f"{', '.join(flag(n) for n in fixed)} cannot change when resuming a {task} run; only "
                          f"{', '.join(flag(n) for n in allowed)} can")
    path = resolve_checkpoint(path, "latest.pt")
    payload = load_checkpoint(path, task=task)
    beside = path.parent / "latest.pt"
    if path.name != "latest.pt" and beside.exists():
        newer = load_checkpoint(beside, task=task).get("step", 0)
        if isinstance(newer, int) and newer > payload.get("step", 0):
            raise SeqgenError(f"{path} is an older state (step {payload.get('step')}) of the run whose latest.pt is at "
                              f"step {newer}; resume from {beside} (resuming the older one would overwrite it)")
    return path, payload


def open_run_folder(world: World, make: Callable[[], RunFolder]) -> RunFolder:
    """The run folder: made (and locked) by rank 0; the other ranks of a data-parallel run learn its path
    and never write in it."""
    if world.size == 1:
        return make()
    made = []
    path = world.from_main(lambda: str(made.append(make()) or made[0].path))
    return made[0] if world.main else RunFolder(path)
