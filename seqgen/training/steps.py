"""The loop of the tasks that train by optimizer steps: `fit` over a `StepTask`, with the state a resume
needs (`TrainState`, which saves and restores itself)."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

import torch
from torch import nn

from seqgen.checkpoint import check_weights, rebuilding
from seqgen.config import StepOptions
from seqgen.device import autocast, resolve_precision
from seqgen.distributed import World
from seqgen.errors import SeqgenError
from seqgen.runs import RunFolder, RunPaths
from seqgen.threads import ThreadPolicy
from seqgen.training.common import (
    arm,
    check_finite,
    learning_rate,
    open_run_folder,
    progress_bar,
    rng_state,
    set_rng_state,
)


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


class _Bookkeeping:
    """What `fit` does around its steps: the budget, saving, evaluating and the divergence hint."""

    def __init__(self, task: StepTask, config: StepOptions, run: RunFolder, state: TrainState, device: torch.device,
                 should_stop: Callable[[], bool], world: World):
        self.task, self.config, self.run, self.state, self.device = task, config, run, state, device
        self.should_stop, self.world = should_stop, world
        self.precision = resolve_precision(config.precision, device, getattr(task, "tokens_per_step", None))
        self.threads = ThreadPolicy(config.threads, device=device, processes=world.local_size)
        self.max_steps, self.epochs, self.max_time = config.budget()
        world.after_loss = self.after_loss

    def hint(self) -> str:
        saved = (f"the last good checkpoint is {self.run.latest}" if self.run.has_written("latest.pt") else
                 "this run saved no checkpoint before it diverged")
        return f"lower --lr (now {self.config.lr:g}) or --grad-clip; {saved}"

    def after_loss(self) -> str:
        if self.run.has_written("latest.pt"):
            return f"the run stops here, and `--resume {self.run.latest}` continues it from its last save"
        return "the run stops here, before it saved a checkpoint"

    def fraction_done(self) -> float:
        state, done = self.state, 0.0
        if self.max_steps is not None:
            done = max(done, state.step / self.max_steps)
        if self.epochs is not None:
            done = max(done, self.task.epochs_done(state) / self.epochs)
        if self.max_time is not None:
            done = max(done, state.elapsed / (self.max_time * 60))
        return done

    def save(self, improved: bool) -> None:
        task, state, run, world, model = self.task, self.state, self.run, self.world, self.task.model
        state.position.update(task.position())  # a collective step in a data-parallel run: every rank calls save
        data = {**task.payload(), **state.to_payload(model, task.optimizer, self.device, world)}
        if not world.main:
            return
        run.save_checkpoint(data, run.latest)
        if improved:
            run.save_checkpoint(data, run.best)
        best = None if math.isinf(state.best_val_loss) else state.best_val_loss
        run.write_json("run.json", {**task.summary(), "device": str(self.device), "precision": self.precision,
                                    "threads": self.threads.describe(), **world.describe(),
                                    "parameters": sum(p.numel() for p in model.parameters()),
                                    "step": state.step, "elapsed_seconds": round(state.elapsed, 2),
                                    "best_val_loss": best, "history": state.history})
        run.plot_history(state.history)

    def evaluate_and_save(self) -> bool:
        """Score the validation split and save; False when an interruption cut the evaluation short."""
        state = self.state
        figures = self.world.from_main(lambda: self.task.evaluate(self.should_stop))
        if figures is None:
            return False
        val_loss = figures.get("val_loss")
        if val_loss is not None:
            check_finite(val_loss, "validation loss", f"at step {state.step}", self.hint)
        improved = val_loss is not None and val_loss < state.best_val_loss
        state.history.append({"step": state.step, **figures, "elapsed": round(state.elapsed, 2)})
        if improved:
            state.best_val_loss, state.evals_without_improvement = val_loss, 0
        else:
            state.evals_without_improvement += 1
        self.save(improved or val_loss is None)
        return True

    def step(self, batch, lr: float) -> torch.Tensor:
        """One optimizer step on `batch` at learning rate `lr`; the loss, still on the device."""
        task, optimizer, config = self.task, self.task.optimizer, self.config
        for group in optimizer.param_groups:
            group["lr"] = lr
        with autocast(self.device, self.precision):
            loss = task.loss(batch)
        optimizer.zero_grad(set_to_none=True)
        with self.world.collective("averaging gradients"):
            loss.backward()
        if config.grad_clip > 0:
            nn.utils.clip_grad_norm_(task.model.parameters(), config.grad_clip)
        optimizer.step()
        return loss.detach().float()

    def log(self, bar, lr: float, rate: float) -> None:
        """Read the loss from the device (the only host sync between evaluations), record and show it."""
        state = self.state
        train_loss = self.world.mean(state.loss_sum).item() / state.loss_count
        check_finite(train_loss, "training loss", f"at step {state.step}", self.hint)
        state.loss_sum.zero_()
        state.loss_count = 0
        state.history.append({"step": state.step, "train_loss": train_loss, "lr": lr, "elapsed": round(state.elapsed, 2)})
        bar.set_postfix({"step": state.step, "loss": f"{train_loss:.3f}", **self.task.postfix(state),
                         "tok/s": f"{rate:,.0f}"}, refresh=False)
        bar.update(100 * min(1.0, self.fraction_done()) - bar.n)


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
    if world.size > 1:
        from torch.nn.parallel import DistributedDataParallel

        task.network = DistributedDataParallel(task.model, device_ids=[device] if device.type == "cuda" else None)
    books = _Bookkeeping(task, config, run, state, device, should_stop, world)
    threads, fraction_done = books.threads, books.fraction_done
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
    tick = time.perf_counter()  # the thread policy's look at the idle CPUs counts as training time
    with threads:  # the thread count is measured while the steps run, and restored at the end
        task.model.train()
        threads.start(look=True)
        while fraction_done() < 1.0:
            batch = task.next_batch(state)
            lr = learning_rate(config, state.step, fraction_done())
            state.loss_sum += books.step(batch, lr)
            state.loss_count += 1
            state.step += 1
            rate_tokens += task.batch_tokens(batch)
            now = time.perf_counter()
            threads.observe(now - tick)  # may change the thread count of the next steps
            state.elapsed, stop_requested = world.agree(state.elapsed + now - tick, should_stop())
            tick = now
            if state.step % config.log_interval == 0:
                books.log(bar, lr, rate_tokens / max(1e-9, time.perf_counter() - rate_start))
                rate_tokens, rate_start = 0, time.perf_counter()
            # Ctrl-C: save the full state first; validating could take minutes
            if stop_requested:
                books.save(False)
                saved_step, stop_reason = state.step, "interrupted"
                break
            if state.step % config.eval_interval == 0 or fraction_done() >= 1.0:
                if not books.evaluate_and_save():
                    books.save(False)
                    saved_step, stop_reason = state.step, "interrupted"
                    break
                saved_step = state.step
                tick = time.perf_counter()  # evaluation time does not count against the budget
                if config.patience is not None and state.evals_without_improvement >= config.patience:
                    stop_reason = "patience"
                    break
        if saved_step != state.step and not books.evaluate_and_save():
            books.save(False)
            stop_reason = "interrupted"
        bar.update(100 * min(1.0, fraction_done()) - bar.n)
        bar.close()
    state.loss_sum = float(state.loss_sum)
    return FitResult(run, state.step, state.best_val_loss, stop_reason, state.history)


def fit_run(make_task: Callable[[], StepTask], model: nn.Module, config: StepOptions, data_name: str, resume,
            checkpoint: Optional[dict], device: torch.device, world: World,
            should_stop: Optional[Callable[[], bool]] = None, progress: bool = True, notes: tuple = ()) -> FitResult:
    """`fit` in the run's folder: a new one, or the folder of `checkpoint` (read from `resume`), whose training
    state is restored (and the task's own position, by its `restore(position)` where it has one). The folder is
    closed however training ends. On several ranks, each draws its own dropout masks from here on (the
    networks were built alike before)."""
    if world.size > 1:
        torch.manual_seed(config.seed + 7919 * world.rank)
    run = open_run_folder(world, lambda: RunFolder.of_checkpoint(resume) if checkpoint is not None else
                          RunFolder.new(config.output_dir, config.name, data_name, config.overwrite))
    try:
        task = make_task()
        state = TrainState()
        if checkpoint is not None:
            with rebuilding(resume):
                state = TrainState.from_payload(checkpoint, model, task.optimizer, device, world)
                if hasattr(task, "restore"):
                    task.restore(state.position)
        return fit(task, config, run, state, device, should_stop, progress, notes, world)
    finally:
        run.close()
