"""What every training loop shares: AdamW parameter groups, warm-up and cosine schedule, the budget,
the state a resume needs (it saves and restores itself), divergence checks, the progress bar, Ctrl-C,
and `fit`, the loop of the tasks that train by optimizer steps."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

import torch
from torch import nn

from seqgen.checkpoint import check_weights, load_checkpoint, resolve_checkpoint
from seqgen.config import RESUMABLE_OVERRIDES, StepOptions, flag
from seqgen.device import autocast, resolve_precision
from seqgen.distributed import World
from seqgen.errors import SeqgenError
from seqgen.runs import RunFolder, RunPaths
from seqgen.threads import ThreadPolicy

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


def progress_bar(total: float, enabled: bool, **options):
    """One bar on stderr: tqdm's notebook widget inside Jupyter when ipywidgets is there to draw it, else the
    text bar."""
    options.setdefault("bar_format", "{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]")
    return _bar_class()(total=total, disable=not enabled, file=sys.stderr, dynamic_ncols=True, **options)


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


@dataclass
class TrainState:
    """Everything of a step-based run that must survive an interruption for it to continue exactly,
    besides the weights and the optimizer: the loop's counters, the data position and the history."""

    step: int = 0
    epoch: int = 0
    position: dict = field(default_factory=dict)  # the task's place within the epoch (window, hidden state, …)
    elapsed: float = 0.0  # training seconds (evaluation excluded)
    best_val_loss: float = math.inf
    evals_without_improvement: int = 0
    history: list = field(default_factory=list)
    loss_sum: float = 0.0  # training loss summed since the last log line (a device tensor while training)
    loss_count: int = 0

    def to_payload(self, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device,
                   world: Optional[World] = None) -> dict:
        world = world or World()
        ranks = world.gather(rng_state(device))  # every rank draws its own dropout masks
        return {
            "world": world.describe(),
            "rank_rng_states": ranks if world.size > 1 else None,
            "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer_state": optimizer.state_dict(),
            "scheduler_state": {"step": self.step, "elapsed": self.elapsed, "lr": optimizer.param_groups[0]["lr"]},
            "rng_state": rng_state(device),
            "data_position": {"epoch": self.epoch, **self.position},
            "pending_loss": {"sum": float(self.loss_sum), "count": self.loss_count},
            "step": self.step,
            "best_val_loss": self.best_val_loss,
            "evals_without_improvement": self.evals_without_improvement,
            "history": self.history,
        }

    @classmethod
    def from_payload(cls, payload: dict, model: nn.Module, optimizer: torch.optim.Optimizer,
                     device: torch.device, world: Optional[World] = None) -> "TrainState":
        """Restore weights, optimizer and random state from a checkpoint; return the loop's state. A run saved
        by as many processes as now gives each rank its own random state back; under another number of
        processes the ranks draw new dropout masks from the saved state, everything else continues exactly."""
        world = world or World()
        check_weights(payload["model_state"])
        model.load_state_dict(payload["model_state"])
        optimizer.load_state_dict(payload["optimizer_state"])
        ranks = payload.get("rank_rng_states")
        if isinstance(ranks, list) and len(ranks) == world.size:
            set_rng_state(ranks[world.rank], device)
        else:
            set_rng_state(payload["rng_state"], device)
            if world.size > 1:
                torch.manual_seed(int(torch.randint(2**62, (1,))) + world.rank)
        position = dict(payload["data_position"])
        return cls(step=int(payload["step"]), epoch=int(position.pop("epoch")), position=position,
                   elapsed=float(payload["scheduler_state"]["elapsed"]), best_val_loss=float(payload["best_val_loss"]),
                   evals_without_improvement=int(payload["evals_without_improvement"]),
                   history=list(payload["history"]), loss_sum=float(payload["pending_loss"]["sum"]),
                   loss_count=int(payload["pending_loss"]["count"]))


class StepTask(Protocol):
    """What a task hands to `fit`: its model and optimizer, its data, its loss and its evaluation."""

    model: nn.Module
    optimizer: torch.optim.Optimizer

    def next_batch(self, state: TrainState):
        """The next training batch; advances state.position (and state.epoch at the end of a pass)."""

    def epochs_done(self, state: TrainState) -> float:
        """Passes over the training data so far, fractions included."""

    def loss(self, batch) -> torch.Tensor:
        """The mean training loss of a batch (run under autocast)."""

    def batch_tokens(self, batch) -> int:
        """Tokens (or examples) in a batch, for the speed shown on the bar."""

    def evaluate(self, should_stop: Callable[[], bool]) -> Optional[dict]:
        """Validation figures, at least {"val_loss": float or None}; None when stopped part-way."""

    def position(self) -> dict:
        """What besides the window index a resume needs to continue the data exactly (e.g. a carried state)."""

    def payload(self) -> dict:
        """The task's part of a checkpoint: configs, tokenizer, corpus; not the loop's state."""

    def summary(self) -> dict:
        """The task's part of run.json."""

    def postfix(self, state: TrainState) -> dict:
        """Figures for the progress bar besides step and loss."""


@dataclass(repr=False)  # RunPaths gives the short one
class FitResult(RunPaths):
    run: RunFolder
    step: int
    best_val_loss: float
    stop_reason: str  # "budget", "patience" or "interrupted"
    history: list
    sample: object = None  # what `seqgen train` shows at the end, when asked for (see seqgen.api.train)


def fit(task: StepTask, config: StepOptions, run: RunFolder, state: TrainState, device: torch.device,
        should_stop: Optional[Callable[[], bool]] = None, progress: bool = True, notes: tuple = (),
        world: Optional[World] = None) -> FitResult:
    """Train until the budget is spent, patience runs out or `should_stop()` says so. `notes` (about the data:
    skipped files, left-out pairs) are printed on stderr once every check has passed and training starts, so
    that a mistake found before is one line.

    Every --eval-interval steps the validation split is scored and latest.pt (the full state) and,
    when it improved, best.pt are written. An interruption writes latest.pt first and returns
    without validating, so Ctrl-C answers within a step.

    In a data-parallel run (`world` of several processes) every rank runs this loop on its share of
    each batch, with the model wrapped in DistributedDataParallel (gradients averaged); the ranks agree
    on the clock, the loss and a stop request every step, rank 0 evaluates and tells the others the
    result, and only rank 0 writes files and draws the bar.
    """
    should_stop = should_stop or (lambda: False)
    world = world or World()
    model, optimizer = task.model, task.optimizer
    if world.size > 1:
        from torch.nn.parallel import DistributedDataParallel

        task.network = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    precision = resolve_precision(config.precision, device, getattr(task, "tokens_per_step", None))
    threads = ThreadPolicy(config.threads, device=device, processes=world.local_size)
    max_steps, epochs, max_time = config.budget()

    def hint() -> str:
        saved = (f"the last good checkpoint is {run.latest}" if run.has_written("latest.pt") else
                 "this run saved no checkpoint before it diverged")
        return f"lower --lr (now {config.lr:g}) or --grad-clip; {saved}"

    def after_loss() -> str:
        if run.has_written("latest.pt"):
            return f"the run stops here, and `--resume {run.latest}` continues it from its last save"
        return "the run stops here, before it saved a checkpoint"

    world.after_loss = after_loss

    def fraction_done() -> float:
        done = 0.0
        if max_steps is not None:
            done = max(done, state.step / max_steps)
        if epochs is not None:
            done = max(done, task.epochs_done(state) / epochs)
        if max_time is not None:
            done = max(done, state.elapsed / (max_time * 60))
        return done

    def save(improved: bool) -> None:
        state.position.update(task.position())  # a collective step in a data-parallel run: every rank calls save
        data = {**task.payload(), **state.to_payload(model, optimizer, device, world)}
        if not world.main:
            return
        run.save_checkpoint(data, run.latest)
        if improved:
            run.save_checkpoint(data, run.best)
        best = None if math.isinf(state.best_val_loss) else state.best_val_loss
        run.write_json("run.json", {**task.summary(), "device": str(device), "precision": precision,
                                    "threads": threads.describe(), **world.describe(),
                                    "parameters": sum(p.numel() for p in model.parameters()),
                                    "step": state.step, "elapsed_seconds": round(state.elapsed, 2),
                                    "best_val_loss": best, "history": state.history})
        run.plot_history(state.history)

    def evaluate_and_save() -> bool:
        """Score the validation split and save; False when an interruption cut the evaluation short."""
        figures = world.from_main(lambda: task.evaluate(should_stop))
        if figures is None:
            return False
        val_loss = figures.get("val_loss")
        if val_loss is not None:
            check_finite(val_loss, "validation loss", f"at step {state.step}", hint)
        improved = val_loss is not None and val_loss < state.best_val_loss
        state.history.append({"step": state.step, **figures, "elapsed": round(state.elapsed, 2)})
        if improved:
            state.best_val_loss, state.evals_without_improvement = val_loss, 0
        else:
            state.evals_without_improvement += 1
        save(improved or val_loss is None)
        return True

    if state.step > 0 and fraction_done() >= 1.0:
        raise SeqgenError(f"this run is finished: it spent its budget (step {state.step}); to train on, extend it with "
                          "--max-steps, --epochs or --max-time")
    for note in notes if world.main else ():
        print(note, file=sys.stderr)
    arm(should_stop)
    # One bar over the whole budget (steps, epochs or minutes alike), so its ETA is meaningful.
    bar = progress_bar(100, progress and world.main)
    bar.update(100 * min(1.0, fraction_done()))
    state.loss_sum = torch.as_tensor(state.loss_sum, dtype=torch.float32, device=device)
    rate_tokens, rate_start = 0, time.perf_counter()
    stop_reason, saved_step = "budget", state.step if state.history else -1
    with threads:  # the thread count is measured while the steps run, and restored at the end
        model.train()
        tick = time.perf_counter()

        while fraction_done() < 1.0:
            # one optimizer step
            batch = task.next_batch(state)
            lr = learning_rate(config, state.step, fraction_done())
            for group in optimizer.param_groups:
                group["lr"] = lr
            with autocast(device, precision):
                loss = task.loss(batch)
            optimizer.zero_grad(set_to_none=True)
            with world.collective("averaging gradients"):
                loss.backward()
            if config.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            state.loss_sum += loss.detach().float()
            state.loss_count += 1
            state.step += 1
            rate_tokens += task.batch_tokens(batch)
            now = time.perf_counter()
            threads.observe(now - tick)  # may change the thread count of the next steps
            state.elapsed, stop_requested = world.agree(state.elapsed + now - tick, should_stop())
            tick = now

            # read the loss from the device now and then: the only host sync between evaluations
            if state.step % config.log_interval == 0:
                train_loss = world.mean(state.loss_sum).item() / state.loss_count
                check_finite(train_loss, "training loss", f"at step {state.step}", hint)
                state.loss_sum.zero_()
                state.loss_count = 0
                state.history.append({"step": state.step, "train_loss": train_loss, "lr": lr,
                                      "elapsed": round(state.elapsed, 2)})
                rate = rate_tokens / max(1e-9, time.perf_counter() - rate_start)
                rate_tokens, rate_start = 0, time.perf_counter()
                bar.set_postfix({"step": state.step, "loss": f"{train_loss:.3f}", **task.postfix(state),
                                 "tok/s": f"{rate:,.0f}"}, refresh=False)
                bar.update(100 * min(1.0, fraction_done()) - bar.n)

            # Ctrl-C: save the full state first; validating could take minutes
            if stop_requested:
                save(False)
                saved_step, stop_reason = state.step, "interrupted"
                break

            # evaluate the loss on the validation split and write checkpoints
            if state.step % config.eval_interval == 0 or fraction_done() >= 1.0:
                if not evaluate_and_save():
                    save(False)
                    saved_step, stop_reason = state.step, "interrupted"
                    break
                saved_step = state.step
                tick = time.perf_counter()  # evaluation time does not count against the budget
                if config.patience is not None and state.evals_without_improvement >= config.patience:
                    stop_reason = "patience"
                    break
        if saved_step != state.step and not evaluate_and_save():
            save(False)
            stop_reason = "interrupted"
        bar.update(100 * min(1.0, fraction_done()) - bar.n)
        bar.close()
    state.loss_sum = float(state.loss_sum)
    return FitResult(run, state.step, state.best_val_loss, stop_reason, state.history)
