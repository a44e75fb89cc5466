"""Data-parallel training under torchrun: joining the process group a launch describes in its
environment (RANK, LOCAL_RANK, WORLD_SIZE), and the few collective steps the training loop needs
so that every process takes the same decisions.

    torchrun --standalone --nproc-per-node 4 -m seqgen train --batch-size 256

Without torchrun, `join` returns a world of one process and nothing here does any work (torch is
imported only for a launch, so the command line can ask `reports` at no cost).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

from seqgen.errors import SeqgenError

if TYPE_CHECKING:
    import torch

BACKENDS = {"cuda": "nccl", "cpu": "gloo"}
TIMEOUT = datetime.timedelta(minutes=30)  # a rank silent this long (not dead: a dead one is seen at once) ends the run


class PeerLost(SeqgenError):
    pass


class OwnError(SeqgenError):
    """An error one process of a torchrun launch meets alone (a corpus missing on its node, a GPU it lacks):
    that process prints it, where an error every rank meets is printed by rank 0 alone (see `reports`)."""


@dataclass
class World:
    """This process's place in a data-parallel run: rank `rank` of `size`."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1
    backend: Optional[str] = None
    owns_group: bool = False  # whether `join` started the process group (and `leave` ends it)
    # How the line of a lost peer ends: the training loop names its own last save, once it has one.
    after_loss: Callable[[], str] = field(default=lambda: "the run stops here", repr=False)

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes checkpoints, run.json and the progress bar."""
        return self.rank == 0

    @property
    def local_size(self) -> int:
        """Processes of this run on this machine (torchrun's LOCAL_WORLD_SIZE): they share its CPUs."""
        if self.size == 1:
            return 1
        value = os.environ.get("LOCAL_WORLD_SIZE", "")
        return int(value) if value.isdigit() and int(value) >= 1 else self.size

    def describe(self) -> dict:
        return {"world_size": self.size, "backend": self.backend}

    @contextlib.contextmanager
    def collective(self, what: str):
        """Turn the failure of a collective step (another rank died or cannot be reached) into one line."""
        try:
            yield
        except (RuntimeError, ValueError) as error:
            if self.size == 1 or isinstance(error, SeqgenError):
                raise
            reason = re.sub(r"^\[[^\]]*\]\s*", "", str(error).strip().splitlines()[0] if str(error).strip() else "")
            reason = reason.split(". ")[0].rstrip(".")[:120] or type(error).__name__
            raise PeerLost(f"rank {self.rank} of {self.size}: another process of this run stopped or cannot be "
                           f"reached while {what} ({reason}); {self.after_loss()}") from None

    @contextlib.contextmanager
    def alone(self):
        """For what a rank other than 0 does after rank 0 did it without error: a SeqgenError here is this
        process's own, so it names its rank and is printed by it."""
        try:
            yield
        except OwnError:
            raise
        except SeqgenError as error:
            if self.main or self.size == 1:
                raise
            raise OwnError(f"rank {self.rank} of {self.size}: {error}") from None

    def agree(self, elapsed: float, stop: bool) -> tuple[float, bool]:
        """The training seconds of the slowest rank, and whether any rank was asked to stop: every rank then
        follows the same learning-rate schedule and budget, and Ctrl-C on one stops all."""
        if self.size == 1:
            return elapsed, stop
        import torch
        import torch.distributed as dist

        values = torch.tensor([elapsed, float(stop)], dtype=torch.float64, device=self._device())
        with self.collective("agreeing on the step"):
            dist.all_reduce(values, op=dist.ReduceOp.MAX)
        return float(values[0]), bool(values[1] > 0)

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a tensor over the ranks (e.g. the training loss, so every rank logs and checks the same)."""
        if self.size == 1:
            return value
        import torch.distributed as dist

        value = value.detach().clone()
        with self.collective("averaging the loss"):
            dist.all_reduce(value, op=dist.ReduceOp.SUM)
        return value / self.size

    def from_main(self, compute: Callable[[], object]) -> object:
        """`compute()` on rank 0, its result (any picklable object of seqgen's own) on every rank."""
        if self.size == 1:
            return compute()
        box = [None]
        if self.main:
            try:
                box = [("ok", compute())]
            except SeqgenError as error:  # the others must not wait for ever: they stop with the same line
                box = [("error", str(error))]
                self._broadcast(box)
                raise
        self._broadcast(box)
        if box[0][0] == "error":
            raise SeqgenError(box[0][1])
        return box[0][1]

    def _broadcast(self, box: list) -> None:
        import torch.distributed as dist

        with self.collective("waiting for rank 0"):
            dist.broadcast_object_list(box, src=0, device=self._device())

    def gather(self, value: object) -> list:
        """Every rank's `value`, in rank order, on every rank."""
        if self.size == 1:
            return [value]
        import torch.distributed as dist

        values = [None] * self.size
        with self.collective("gathering the state to save"):
            dist.all_gather_object(values, value)
        return values

    def leave(self) -> None:
        if self.owns_group:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self.owns_group = False

    def _device(self) -> torch.device:
        import torch

        return torch.device("cuda", torch.cuda.current_device()) if self.backend == "nccl" else torch.device("cpu")


def launched() -> bool:
    """Whether this process is one of several that torchrun (or another launcher) started."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1
    except ValueError:
        return True  # not a number: `join` says so


@contextlib.contextmanager
def joined(device: torch.device):
    """`join` for the length of a training run: yields (world, device) and leaves the process group after."""
    world, device = join(device)
    try:
        yield world, device
    finally:
        world.leave()


def launch_rank() -> int:
    """This process's rank in a torchrun launch (0 without one): only rank 0 reports to the user."""
    try:
        return int(os.environ.get("RANK", "0") or 0) if launched() else 0
    except ValueError:
        return 0  # `join` says what is wrong with the launch


# A rank that does not print its error waits this long before it exits: torchrun stops every process as soon
# as one ends, and rank 0, meeting the same error at about the same moment, must have printed its line by then.
QUIET_RANK_WAIT = 2.0


def reports(error: BaseException) -> bool:
    """Whether this process prints `error` as its one line. The ranks of a torchrun launch run the same
    command, and an error on rank 0 reaches the others as the same line, so rank 0 alone prints what every
    rank meets; another rank prints only an error of its own (OwnError). torchrun's report follows."""
    return launch_rank() == 0 or isinstance(error, OwnError)


def join(device: torch.device) -> tuple[World, torch.device]:
    """The World of this process and the device it trains on: for a torchrun launch of several processes,
    the process group (nccl on CUDA, one GPU per local rank; gloo on the CPU) is started here."""
    if not launched():
        return World(), device
    import torch
    import torch.distributed as dist

    try:
        rank, local_rank, size = (int(os.environ[name]) for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))
    except (KeyError, ValueError):
        raise SeqgenError("WORLD_SIZE is set but RANK and LOCAL_RANK are not (all three must be whole numbers): "
                          "launch several processes with torchrun (e.g. `torchrun --standalone --nproc-per-node 2 "
                          "-m seqgen train`)") from None
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise OwnError(f"local rank {local_rank} has no GPU of its own (this machine has "
                              f"{torch.cuda.device_count()}); use --nproc-per-node {torch.cuda.device_count()} or fewer")
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    elif device.type != "cpu":
        raise SeqgenError(f"data-parallel training runs on CUDA or the CPU, not {device.type}")
    backend = BACKENDS[device.type]
    owns = not dist.is_initialized()
    if owns:
        try:
            dist.init_process_group(backend, timeout=TIMEOUT, device_id=device if device.type == "cuda" else None)
        except (RuntimeError, ValueError) as error:
            raise SeqgenError(f"could not join the torchrun process group ({str(error).splitlines()[0][:160]}); "
                              "check --rdzv-endpoint and that every node can reach it") from None
    return World(rank, local_rank, size, backend, owns), device
