"""The loop of the tasks that train a small ensemble (forecast, classify): `train_members` trains the networks
one after another, network m from seed + m, for a number of epochs each (fewer when its validation loss stops
improving), and saves the full state (finished networks, the network in progress with its optimizer, data
order, early-stopping and random states) after each network and when stopped, so a resume continues exactly.
A task hands it a `MemberTask`: its networks, batches, loss, optional validation and checkpoint contents."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Protocol

import torch
from torch import nn

from seqgen.checkpoint import rebuilding, require
from seqgen.config import from_dict
from seqgen.device import autocast, resolve_device
from seqgen.errors import SeqgenError
from seqgen.runs import RunFolder, check_new_run
from seqgen.threads import ThreadPolicy, check_threads
from seqgen.training.common import (
    arm,
    check_finite,
    load_finished,
    parameter_groups,
    progress_bar,
    refuse_finished,
    resume_point,
    rng_state,
    set_rng_state,
    small_network_precision,
)

# Resuming an ensemble run continues it exactly as it was set up; only where it runs may change.
RESUMABLE = ("device", "precision", "threads")
# Adam's betas of the ensembles' networks (make_optimizer's (0.9, 0.99) suit the step-trained tasks).
BETAS = (0.9, 0.999)
GRAD_CLIP = 1.0
BAR = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} epochs [{elapsed}<{remaining}{postfix}]"
# What a network in progress keeps besides its weights, optimizer and random states (a snapshot's keys).
PROGRESS = ("epoch", "best_loss", "best_state", "best_epoch", "waited", "history")


def member_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with decay on weight matrices only (see parameter_groups)."""
    return torch.optim.AdamW(parameter_groups(model, weight_decay), lr=lr, betas=BETAS)


def weights_of(model: nn.Module) -> dict:
    """A copy of the model's weights on the CPU."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


@dataclass
class EnsembleState:
    """Where an ensemble run stands: all a resume needs besides the configuration and the data."""

    epochs: int  # most epochs per network
    member: int = 0  # networks finished
    records: list = field(default_factory=list)  # per finished network: weights, history, best_epoch, …
    network: Optional[dict] = None  # the network in progress after an interruption (see `snapshot`)
    loss_sums: list = field(default_factory=list)  # per epoch: the training loss summed over networks / ensemble size

    def __post_init__(self):
        self.loss_sums = self.loss_sums or [0.0] * self.epochs

    @property
    def epoch(self) -> int:
        """Epochs finished of the network in progress."""
        return self.network["epoch"] if self.network is not None else 0

    def weights(self) -> list:
        return [record["weights"] for record in self.records]


# A checkpoint's train_state comes in two layouts. Without validation (forecast) it keeps the epoch of the
# network in progress and the per-epoch loss sums beside the member count, and that network as its weights,
# optimizer, data order and random states (NETWORK). With validation (classify) the snapshot holds the
# network's progress too (PROGRESS: epoch, early stopping, history), and the checkpoint a training record
# per finished network beside its weights.
NETWORK = ("model_state", "optimizer_state", "order_state", "rng_state")


def _check_counts(state: dict, members: list, ensemble: int, epochs: int) -> None:
    if state["epochs"] != epochs:
        raise SeqgenError(f"its training state counts {state['epochs']} epochs, its configuration {epochs}")
    if not 0 <= state["member"] <= ensemble or len(members) != state["member"]:
        raise SeqgenError(f"its training state says {state['member']} of {ensemble} networks are trained, but it "
                          f"holds {len(members)}")


def state_payload(state: EnsembleState, ensemble: int, validated: bool) -> dict:
    """The checkpoint's train_state (in the layout of a task with or without validation)."""
    done = {"member": state.member, "epochs": state.epochs, "complete": state.member >= ensemble}
    if validated:
        return {**done, "network": state.network}
    network = state.network and {k: state.network[k] for k in NETWORK}
    return {**done, "epoch": state.epoch, "loss_sums": list(state.loss_sums), "network": network}


def records_payload(state: EnsembleState) -> list:
    """The training records of the finished networks of a task with validation, as the checkpoint keeps them."""
    return [{k: v for k, v in r.items() if k != "weights"} for r in state.records]


def restore_state(payload: dict, ensemble: int, epochs: int, validated: bool) -> EnsembleState:
    """The state of a checkpoint (see state_payload), the resume rules checked."""
    state = payload["train_state"]
    if validated:
        require(state, member=int, epochs=int)
        require(payload, members=list, training=list)
        members, training = payload["members"], payload["training"]
        _check_counts(state, members, ensemble, epochs)
        if len(training) != len(members):
            raise SeqgenError(f"it holds {len(members)} networks but the training records of {len(training)}")
        for record in training:
            require(record, history=list, best_epoch=int, stopped_early=bool, val_rows=list)
        return EnsembleState(epochs, state["member"], [{"weights": w, **r} for w, r in zip(members, training)],
                             state.get("network"))
    require(state, member=int, epoch=int, epochs=int, loss_sums=list)
    require(payload, members=list)
    if len(state["loss_sums"]) != epochs:
        raise SeqgenError(f"its training state counts {state['epochs']} epochs, its configuration {epochs}")
    _check_counts(state, payload["members"], ensemble, epochs)
    if not 0 <= state["epoch"] < epochs or (state["epoch"] > 0) != (state.get("network") is not None):
        raise SeqgenError(f"its training state stops at epoch {state['epoch']} without that network's state")
    network = state.get("network")
    if network is not None:
        require(network, **dict.fromkeys(NETWORK, object))
        network = {**network, "epoch": state["epoch"], "best_loss": math.inf, "best_state": None, "best_epoch": 0,
                   "waited": 0, "history": []}
    return EnsembleState(epochs, state["member"], [{"weights": w} for w in payload["members"]], network,
                         [float(x) for x in state["loss_sums"]])


class MemberTask(Protocol):
    """What a task hands to `train_members`. Besides the methods: `config` (seed, lr, weight_decay, ensemble and,
    with validation, patience), `device`, `precision`, `threads` (a ThreadPolicy), `epochs` (per network) and
    `title` (of the progress bar)."""

    config: Any
    device: torch.device
    precision: str
    threads: ThreadPolicy
    epochs: int
    title: str
    # validate(model, member) -> the validation loss of network `member`, None when it holds out nothing;
    # a task without validation sets it to None (each network then trains every epoch and keeps its last weights).
    validate: Optional[Callable[[nn.Module, int], Optional[float]]]
    # Optional too: begin(member) gets ready to train network `member` (its rows, its class weights);
    # record(member) -> what the checkpoint keeps of a finished network besides its weights and history;
    # extra_state() -> what the task adds to the train_state (e.g. its data's fingerprint).

    def network(self) -> nn.Module:
        """A new network on the CPU, drawn from torch's (already seeded) generator."""

    def order(self, seed: int):
        """The generator of the data order (a torch.Generator or a numpy Generator)."""

    def batches(self, member: int, order) -> Iterable[torch.Tensor]:
        """One epoch's batches of row indices of network `member`, in the order `order` draws."""

    def examples(self, member: int) -> int:
        """The training examples of network `member` (what the epoch's loss is averaged over)."""

    def loss(self, model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        """The mean training loss of a batch (run under autocast)."""

    def payload(self, state: EnsembleState, final: bool) -> dict:
        """The checkpoint besides train_state; `final` once every network is trained."""

    def summary(self, state: EnsembleState, final: Optional[dict], run: RunFolder):
        """Write run.json and the plots; return the task's result (final: None when interrupted)."""


class MemberTaskBase:
    """What every MemberTask sets up alike: its options, device, precision, thread policy and epochs."""

    validate = None

    def __init__(self, config, device: torch.device):
        self.config, self.device = config, device
        self.precision = small_network_precision(config.precision, device)
        self.threads = ThreadPolicy(config.threads, device=device)  # timed per optimizer step
        self.epochs = max(1, int(round(config.epochs)))


def _order_state(order):
    return order.get_state() if isinstance(order, torch.Generator) else order.bit_generator.state


def _set_order_state(order, saved) -> None:
    if isinstance(order, torch.Generator):
        order.set_state(saved)
    else:
        order.bit_generator.state = saved


def _start(task: MemberTask, member: int, saved: Optional[dict]):
    """Network `member` as it starts, or as `saved` left it: model, optimizer, data order and progress."""
    seed = task.config.seed + member
    torch.manual_seed(seed)
    order = task.order(seed)
    model = task.network().to(task.device)
    optimizer = member_optimizer(model, task.config.lr, task.config.weight_decay)
    progress = {"epoch": 0, "best_loss": math.inf, "best_state": None, "best_epoch": 0, "waited": 0, "history": []}
    if saved is not None:
        model.load_state_dict(saved["model_state"])
        optimizer.load_state_dict(saved["optimizer_state"])
        _set_order_state(order, saved["order_state"])
        set_rng_state(saved["rng_state"], task.device)
        progress = {key: saved[key] for key in PROGRESS}
        progress["history"] = list(progress["history"])
    return model, optimizer, order, progress


def snapshot(task: MemberTask, model, optimizer, order, progress: dict) -> dict:
    """The network in progress: weights, optimizer, data order and random states, and its progress."""
    return {"model_state": weights_of(model), "optimizer_state": optimizer.state_dict(),
            "order_state": _order_state(order), "rng_state": rng_state(task.device), **progress}


def restore_check(task: MemberTask, state: EnsembleState) -> None:
    """Build every saved network once, so a damaged checkpoint fails before training starts."""
    for record in state.records:
        task.network().load_state_dict(record["weights"])
    if state.network is None:
        return
    order = task.order(0)
    require(state.network, model_state=dict, optimizer_state=dict,
            order_state=torch.Tensor if isinstance(order, torch.Generator) else dict, rng_state=dict, epoch=int,
            best_loss=(int, float), best_epoch=int, waited=int, history=list)
    model = task.network()
    model.load_state_dict(state.network["model_state"])
    if state.network["best_state"] is not None:
        model.load_state_dict(state.network["best_state"])
    member_optimizer(model, task.config.lr, task.config.weight_decay).load_state_dict(state.network["optimizer_state"])
    _set_order_state(order, state.network["order_state"])
    if not 0 < state.network["epoch"] < task.epochs:
        raise SeqgenError(f"its network in progress stops at epoch {state.network['epoch']} of {task.epochs}")


def _epoch(task: MemberTask, model: nn.Module, optimizer, order, member: int) -> float:
    """One pass over network `member`'s batches; the training loss summed over its examples."""
    model.train()
    total = 0.0
    for batch in task.batches(member, order):
        with task.threads.step():
            with autocast(task.device, task.precision):
                loss = task.loss(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
            optimizer.step()
            total += loss.item() * len(batch)
    return total


def _improved(task: MemberTask, model: nn.Module, progress: dict, entry: dict) -> bool:
    """Early stopping: record the epoch's score; False once --patience epochs went by without a better one."""
    score = entry.get("val_loss", -entry["step"])  # without a validation split the last epoch is the best
    if score < progress["best_loss"]:
        progress.update(best_loss=score, best_epoch=entry["step"], waited=0, best_state=weights_of(model))
        return True
    progress["waited"] += 1
    return task.config.patience is None or progress["waited"] < task.config.patience


def _train_member(task: MemberTask, state: EnsembleState, member: int, should_stop, bar):
    """Train network `member` to its end (its record) or until `should_stop()` (its snapshot, state.network)."""
    model, optimizer, order, progress = _start(task, member, state.network)
    validates, stopped_early = task.validate is not None, False
    for epoch in range(progress["epoch"] + 1, task.epochs + 1):
        total = _epoch(task, model, optimizer, order, member)
        check_finite(total, "training loss", f"(member {member + 1}, epoch {epoch})", "lower --lr")
        entry = {"step": epoch, "train_loss": total / task.examples(member)}
        state.loss_sums[epoch - 1] += entry["train_loss"] / task.config.ensemble
        val_loss = task.validate(model, member) if validates else None
        if val_loss is not None:
            entry["val_loss"] = val_loss
        if bar is not None:
            shown = {"val": f"{val_loss:.3f}"} if val_loss is not None else {}
            bar.set_postfix(loss=f"{entry['train_loss']:.3f}", **shown, refresh=False)
        progress["history"].append(entry)
        if bar is not None:
            bar.update(1)
        progress["epoch"] = epoch
        if validates and not _improved(task, model, progress, entry):
            stopped_early = True
            break
        if epoch < task.epochs and should_stop():
            state.network = snapshot(task, model, optimizer, order, progress)
            return None
    if bar is not None:
        bar.update(task.epochs - progress["epoch"])
    model.eval()
    history = progress["history"]
    return {"weights": progress["best_state"] if validates else weights_of(model), "history": history,
            "best_epoch": progress["best_epoch"] if validates else progress["epoch"],
            "best_val_loss": progress["best_loss"] if "val_loss" in history[-1] else None,
            "stopped_early": stopped_early, **(task.record(member) if hasattr(task, "record") else {})}


def run_members(task: MemberTask, state: EnsembleState, save: Optional[Callable[[EnsembleState], None]] = None,
                should_stop: Optional[Callable[[], bool]] = None, bar=None) -> bool:
    """Train the remaining networks; True when all are done, False when `should_stop()` (polled after every
    epoch but a network's last, and after every network but the last) turned true, after `save(state)`
    wrote the full state."""
    should_stop = should_stop or (lambda: False)
    while state.member < task.config.ensemble:
        member = state.member
        if hasattr(task, "begin"):
            task.begin(member)
        record = _train_member(task, state, member, should_stop, bar)
        if record is None:
            if save is not None:
                save(state)
            return False
        state.records.append(record)
        state.member, state.network = member + 1, None
        if save is not None:
            save(state)
        if state.member < task.config.ensemble and should_stop():
            return False
    return True


class LoadedEnsemble:
    """What `seqgen.load` returns for a finished ensemble: its networks rebuilt from the checkpoint alone, and the
    thread policy of its verbs. A task's class sets `task` and `rebuild_networks(payload, device)`, which checks the
    payload (raising SeqgenError) and returns the networks."""

    task: str
    threads: Optional[int] = None  # CPU threads of every verb (None: seqgen.threads.ThreadPolicy decides)

    def __init__(self, networks: list, payload: dict, device: torch.device, path: Path):
        self.networks, self.payload, self.device, self.path = networks, payload, device, path

    @staticmethod
    def rebuild_networks(payload: dict, device: torch.device) -> list:
        raise NotImplementedError

    @classmethod
    def load(cls, path, device: str = "auto", threads: Optional[int] = None):
        """Rebuild the ensemble from a checkpoint alone; a damaged or unfinished one is one line. The networks
        are small, so `auto` runs them on the CPU (cuda only when asked for). `threads` fixes the CPU threads
        its verbs compute with (default: see seqgen.threads)."""
        threads = check_threads(threads)
        device = resolve_device("cpu" if isinstance(device, str) and device == "auto" else device)
        path, payload = load_finished(path, cls.task)
        with rebuilding(path):
            networks = cls.rebuild_networks(payload, device)
        loaded = cls(networks, payload, device, path)
        loaded.threads = threads
        return loaded

    def thread_policy(self) -> ThreadPolicy:
        return ThreadPolicy(self.threads, device=self.device)


def interrupted_line(result) -> str:
    """What the command line says of an ensemble run stopped before its last network (a result with
    `members_done`, `ensemble` and `latest_path`): how far it got and which file resumes it."""
    return (f"Trained {result.members_done} of {result.ensemble} networks; the full state is in "
            f"{result.latest_path}.")


def resume_checkpoint(resume, name: str, config_class, overrides: Optional[dict]) -> tuple:
    """(file, payload, config) of the ensemble run `resume` continues, with the overrides that may change
    (RESUMABLE) applied."""
    resume, checkpoint = resume_point(resume, name, overrides, RESUMABLE)
    if "train_state" not in checkpoint:
        raise SeqgenError(f"{resume} holds no training state to resume (best.pt files and checkpoints of earlier "
                          "seqgen versions have none); give a run's latest.pt or its folder, or start a new run")
    refuse_finished(resume, checkpoint, name)
    with rebuilding(resume):
        require(checkpoint, train_config=dict, train_state=dict)
        config = dataclasses.replace(from_dict(config_class, checkpoint["train_config"]), **(overrides or {}))
    return resume, checkpoint, config


def train_from_file(name: str, config, members, read_data: Callable, run_stem: Callable, resume=None,
                    overrides: Optional[dict] = None, should_stop: Optional[Callable[[], bool]] = None,
                    progress: bool = True):
    """train() of an ensemble task whose data is read from --corpus again on resume (classify, remaining-life):
    the run resumed (its config from the checkpoint, `overrides` applied) or a new --name checked before the data
    is read; the data read by `read_data(config)` and, on resume, checked against the checkpoint's fingerprint;
    then train_members on `members(data, config, device)` in a run folder named `run_stem(config)` by default."""
    checkpoint = None
    if resume is not None:
        resume, checkpoint, config = resume_checkpoint(resume, name, type(config), overrides)
        with rebuilding(resume):
            require(checkpoint["train_state"], fingerprint=str)
    else:  # a --name already taken is one line before the data is read
        check_new_run(config.output_dir, config.name, config.overwrite)
    data = read_data(config)
    if checkpoint is not None and data.fingerprint != checkpoint["train_state"]["fingerprint"]:
        raise SeqgenError(f"the training file {config.corpus} changed since the checkpoint was written; it cannot be "
                          "resumed")
    task = members(data, config, resolve_device(config.device))
    return train_members(task, lambda: RunFolder.new(config.output_dir, config.name, run_stem(config),
                                                      config.overwrite), resume, checkpoint, should_stop, progress)


def train_members(task: MemberTask, new_run: Callable[[], RunFolder], resume=None, checkpoint: Optional[dict] = None,
                  should_stop: Optional[Callable[[], bool]] = None, progress: bool = True):
    """Train the ensemble in a new run folder (`new_run()`) or continue the run of `checkpoint` (read from
    `resume`). latest.pt is written after each network and when stopped; once every network is trained, best.pt
    and latest.pt hold the final payload. Returns what the task's `summary` makes of it."""
    def train_state(state: EnsembleState) -> dict:
        extra = task.extra_state() if hasattr(task, "extra_state") else {}
        return {**state_payload(state, task.config.ensemble, task.validate is not None), **extra}

    with task.threads:
        state = EnsembleState(task.epochs)
        if checkpoint is not None:
            with rebuilding(resume):
                state = restore_state(checkpoint, task.config.ensemble, task.epochs, task.validate is not None)
                restore_check(task, state)
        run = RunFolder.of_checkpoint(resume) if checkpoint is not None else new_run()
        try:
            bar = progress_bar(task.config.ensemble * task.epochs, progress, desc=task.title, bar_format=BAR,
                               initial=state.member * task.epochs + state.epoch)
            try:
                arm(should_stop)  # from here a Ctrl-C saves latest.pt; before, there was nothing to save
                finished = run_members(task, state, lambda s: run.save_checkpoint(
                    {**task.payload(s, False), "train_state": train_state(s)}, run.latest), should_stop, bar)
            finally:
                bar.close()
            final = None
            if finished:
                final = task.payload(state, True)
                run.save_checkpoint(final, run.best)
                run.save_checkpoint({**final, "train_state": train_state(state)}, run.latest)
            return task.summary(state, final, run)
        finally:
            run.close()


def train_in_memory(task: MemberTask, progress: bool, finish: Callable[[EnsembleState], Any]):
    """Train every network with no run folder, nothing saved and no stopping; `finish(state)` (under the same
    thread policy) gives the result."""
    with task.threads:
        state = EnsembleState(task.epochs)
        bar = progress_bar(task.config.ensemble * task.epochs, progress, desc=task.title, bar_format=BAR)
        run_members(task, state, bar=bar)
        bar.close()
        return finish(state)
