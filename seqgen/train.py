"""The truncated-BPTT training loop for language models: one explicit loop, exact resume."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch
from tqdm import tqdm

from seqgen.checkpoint import load_checkpoint, save_checkpoint
from seqgen.config import ModelConfig, TrainConfig, from_dict, to_dict
from seqgen.data.splits import load_splits
from seqgen.data.text import batchify, check_size, window, windows_per_pass
from seqgen.device import autocast, resolve_device
from seqgen.errors import SeqgenError
from seqgen.evaluate import evaluate_loss
from seqgen.models import LSTMLanguageModel
from seqgen.plots import save_figure

TASK = "language-model"
# Options that may change when a run is resumed: they extend or watch the run, not reshape it.
RESUMABLE_OVERRIDES = ("max_steps", "epochs", "max_time", "patience", "eval_interval", "log_interval", "device")


class TrainingDiverged(SeqgenError):
    pass


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    best_val_loss: float
    stop_reason: str  # "budget", "patience" or "interrupted"
    history: list = field(default_factory=list)

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.pt"

    @property
    def latest_path(self) -> Path:
        return self.run_dir / "latest.pt"


def _optimizer(model: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only; the fused kernel on CUDA."""
    decay, no_decay = [], []
    seen = set()
    for name, param in model.named_parameters():
        if id(param) in seen:  # tied weights appear twice
            continue
        seen.add(id(param))
        (decay if param.dim() >= 2 and not name.startswith("embedding") else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.99), fused=device.type == "cuda")


def learning_rate(config: TrainConfig, step: int, progress: float) -> float:
    """Linear warm-up over the first steps, then a cosine from --lr down to --min-lr-ratio × lr."""
    warmup = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps else 1.0
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.lr * warmup * (config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine)


def _run_dir(config: TrainConfig, corpus_name: str) -> Path:
    name = config.name or f"{corpus_name}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    return Path(config.output_dir) / name


def _point_last_at(run_dir: Path) -> None:
    """Keep `<output_dir>/last` pointing at the newest run, so `seqgen sample checkpoints/last` works."""
    link = run_dir.parent / "last"
    try:
        if link.is_symlink():
            link.unlink()
        if not link.exists():
            link.symlink_to(run_dir.name, target_is_directory=True)
    except OSError:
        pass  # no symlinks here (some Windows set-ups): the run folder's own name still works


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _plot_history(history: list, path: Path) -> None:
    """The loss curve PNG beside run.json: training loss per log interval, validation per evaluation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(h["step"], h["train_loss"]) for h in history if h.get("train_loss") is not None]
    val = [(h["step"], h["val_loss"]) for h in history if h.get("val_loss") is not None]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(*zip(*train), label="training", lw=1)
    if val:
        ax.plot(*zip(*val), "o-", label="validation", ms=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def train(model_config: ModelConfig, config: TrainConfig, resume: Optional[str] = None,
          overrides: Optional[dict] = None, should_stop: Optional[Callable[[], bool]] = None,
          progress: bool = True) -> TrainResult:
    """Train a language model; with `resume`, continue that checkpoint's run exactly.

    `should_stop` is polled after every step (the CLI wires it to Ctrl-C and SIGTERM); when it
    returns True, latest.pt is saved with the full state and the function returns.
    """
    checkpoint = None
    if resume is not None:
        if Path(resume).expanduser().is_dir():
            resume = str(Path(resume).expanduser() / "latest.pt")  # a run folder resumes from its latest state
        checkpoint = load_checkpoint(resume, task=TASK)
        model_config = from_dict(ModelConfig, checkpoint["model_config"])
        config = dataclasses.replace(from_dict(TrainConfig, checkpoint["train_config"]), **(overrides or {}))

    device = resolve_device(config.device)
    torch.manual_seed(config.seed)

    splits = load_splits(config, checkpoint["tokenizer"] if checkpoint is not None else None, progress)
    if checkpoint is not None and checkpoint["corpus"]["fingerprint"] != splits.fingerprint:
        raise SeqgenError(f"the corpus {config.corpus!r} changed since the checkpoint was written; it cannot be resumed")
    if splits.skipped:
        shown = "; ".join(f"{name} ({reason})" for name, reason in splits.skipped[:20])
        more = f"; and {len(splits.skipped) - 20} more" if len(splits.skipped) > 20 else ""
        print(f"Skipped {len(splits.skipped)} file(s): {shown}{more}", file=sys.stderr)
    corpus_name, fingerprint, tokenizer = splits.name, splits.fingerprint, splits.tokenizer
    train_ids = splits.ids["train"]
    val_ids = splits.ids["val"] if len(splits.ids["val"]) else None
    check_size("train", train_ids, config.batch_size)
    if val_ids is not None:
        check_size("val", val_ids, 1, "--eval-batch-size")
    # Music reports its loss per quarter note too, so encodings with different grids compare.
    tokens_per_quarter = len(val_ids) / splits.quarters["val"] if val_ids is not None and splits.quarters.get("val") else None
    model_config = dataclasses.replace(model_config, vocab_size=tokenizer.vocab_size)

    model = LSTMLanguageModel(model_config).to(device)
    optimizer = _optimizer(model, config, device)
    train_tokens = torch.from_numpy(train_ids).to(device)  # the compact dtype; windows become int64 one at a time

    run_dir = Path(resume).expanduser().resolve().parent if checkpoint is not None else _run_dir(config, corpus_name)
    run_dir.mkdir(parents=True, exist_ok=True)
    _point_last_at(run_dir)

    # Everything that must survive an interruption for the run to continue exactly.
    step, epoch, window_index, elapsed = 0, 0, 0, 0.0
    best_val_loss, evals_without_improvement, history = math.inf, 0, []
    loss_sum, loss_count = torch.zeros((), device=device), 0
    state = None
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model_state"])
        optimizer.load_state_dict(checkpoint["optimizer_state"])
        position = checkpoint["data_position"]
        epoch, window_index = position["epoch"], position["window"]
        if position["hidden"] is not None:
            state = tuple(t.to(device) for t in position["hidden"])
        step, elapsed = checkpoint["step"], checkpoint["scheduler_state"]["elapsed"]
        best_val_loss = checkpoint["best_val_loss"]
        evals_without_improvement = checkpoint["evals_without_improvement"]
        history = list(checkpoint["history"])
        loss_sum += checkpoint["pending_loss"]["sum"]
        loss_count = checkpoint["pending_loss"]["count"]
        torch.set_rng_state(checkpoint["rng_state"]["torch"])
        if device.type == "cuda" and checkpoint["rng_state"]["cuda"] is not None:
            torch.cuda.set_rng_state(checkpoint["rng_state"]["cuda"], device)

    max_steps, epochs, max_time = config.budget()

    def layout(epoch: int) -> torch.Tensor:
        # Each epoch starts the streams at a different offset, so window borders move between epochs.
        offset = int(torch.randint(config.bptt, (1,), generator=torch.Generator().manual_seed(config.seed + epoch)))
        offset = min(offset, max(0, train_tokens.numel() - 2 * config.batch_size))
        return batchify(train_tokens, config.batch_size, offset)

    streams = layout(epoch)
    per_epoch = windows_per_pass(streams.size(1), config.bptt)

    def fraction_done() -> float:
        done = 0.0
        if max_steps is not None:
            done = max(done, step / max_steps)
        if epochs is not None:
            done = max(done, (epoch + window_index / per_epoch) / epochs)
        if max_time is not None:
            done = max(done, elapsed / (max_time * 60))
        return done

    def payload() -> dict:
        return {
            "task": TASK,
            "model_config": to_dict(model_config),
            "train_config": to_dict(config),
            "tokenizer": tokenizer.to_state(),
            "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer_state": optimizer.state_dict(),
            "scheduler_state": {"step": step, "elapsed": elapsed, "lr": optimizer.param_groups[0]["lr"]},
            "rng_state": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            },
            "data_position": {
                "epoch": epoch,
                "window": window_index,
                "hidden": None if state is None else [t.detach().cpu() for t in state],
            },
            "pending_loss": {"sum": float(loss_sum), "count": loss_count},
            "step": step,
            "best_val_loss": best_val_loss,
            "evals_without_improvement": evals_without_improvement,
            "history": history,
            "corpus": {"name": corpus_name, "spec": config.corpus, "fingerprint": fingerprint},
        }

    def write_run_files() -> None:
        _write_json(run_dir / "run.json", {
            "task": TASK,
            "model_config": to_dict(model_config),
            "train_config": to_dict(config),
            "device": str(device),
            "parameters": sum(p.numel() for p in model.parameters()),
            "train_tokens": int(train_ids.size),
            "skipped_files": [list(item) for item in splits.skipped],
            "step": step,
            "elapsed_seconds": round(elapsed, 2),
            "best_val_loss": None if math.isinf(best_val_loss) else best_val_loss,
            "history": history,
        })
        _plot_history(history, run_dir / "loss.png")

    def evaluate_and_save() -> bool:
        """Score the validation split, save best/latest; True when the loss improved."""
        nonlocal best_val_loss, evals_without_improvement
        val_loss = evaluate_loss(model, val_ids, config.eval_batch_size, config.bptt, device) if val_ids is not None else None
        if val_loss is not None and not math.isfinite(val_loss):
            raise TrainingDiverged(
                f"the validation loss became {val_loss} at step {step}; lower --lr (now {config.lr:g}); "
                f"the last good checkpoint is {run_dir / 'latest.pt'}"
            )
        improved = val_loss is not None and val_loss < best_val_loss
        entry = {"step": step, "val_loss": val_loss, "elapsed": round(elapsed, 2)}
        if tokens_per_quarter is not None and val_loss is not None:
            entry["val_loss_per_quarter"] = val_loss * tokens_per_quarter
        history.append(entry)
        if improved:
            best_val_loss, evals_without_improvement = val_loss, 0
        else:
            evals_without_improvement += 1
        data = payload()
        save_checkpoint(data, run_dir / "latest.pt")
        if improved or val_ids is None:
            save_checkpoint(data, run_dir / "best.pt")
        write_run_files()
        return improved

    # One bar over the whole budget (steps, epochs or minutes alike), so its ETA is meaningful.
    bar = tqdm(total=100, disable=not progress, file=sys.stderr, dynamic_ncols=True,
               bar_format="{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]")
    bar.update(100 * min(1.0, fraction_done()))
    last_val = None if math.isinf(best_val_loss) else best_val_loss
    rate_tokens, rate_start = 0, time.perf_counter()
    unit = "bpc" if tokenizer.kind == "char" else "ppl"
    stop_reason = "budget"
    saved_step = step if checkpoint is not None else -1
    model.train()
    tick = time.perf_counter()

    while fraction_done() < 1.0:
        if window_index >= per_epoch:
            epoch, window_index, state = epoch + 1, 0, None
            streams = layout(epoch)
            per_epoch = windows_per_pass(streams.size(1), config.bptt)
            continue
        lr = learning_rate(config, step, fraction_done())
        for group in optimizer.param_groups:
            group["lr"] = lr
        inputs, targets = window(streams, window_index, config.bptt)  # (B, T) each
        if state is not None:
            # Truncated BPTT: keep the values of the state, cut the graph, so the gradient reaches
            # back only through this window while the model still sees the text before it.
            state = tuple(t.detach() for t in state)
        with autocast(device):
            logits, state = model(inputs, state)  # (B, T, V)
            loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        loss_sum += loss.detach()
        loss_count += 1
        step += 1
        window_index += 1
        rate_tokens += targets.numel()
        now = time.perf_counter()
        elapsed += now - tick
        tick = now

        if step % config.log_interval == 0:
            train_loss = loss_sum.item() / loss_count  # the only host sync between evaluations
            if not math.isfinite(train_loss):
                raise TrainingDiverged(
                    f"the training loss became {train_loss} at step {step}; lower --lr (now {config.lr:g}) or "
                    f"--grad-clip; the last good checkpoint is {run_dir / 'latest.pt'}"
                )
            loss_sum.zero_()
            loss_count = 0
            history.append({"step": step, "train_loss": train_loss, "lr": lr, "elapsed": round(elapsed, 2)})
            rate = rate_tokens / max(1e-9, time.perf_counter() - rate_start)
            rate_tokens, rate_start = 0, time.perf_counter()
            shown = {"step": step, "loss": f"{train_loss:.3f}"}
            if last_val is not None:
                shown["val"] = f"{last_val:.3f}"
                shown[unit] = f"{last_val / math.log(2):.3f}" if unit == "bpc" else f"{math.exp(last_val):.1f}"
            shown["tok/s"] = f"{rate:,.0f}"
            bar.set_postfix(shown, refresh=False)
            bar.update(100 * min(1.0, fraction_done()) - bar.n)

        interrupted = should_stop is not None and should_stop()
        if step % config.eval_interval == 0 or fraction_done() >= 1.0 or interrupted:
            evaluate_and_save()
            saved_step = step
            last_val = best_val_loss if val_ids is not None else None
            tick = time.perf_counter()  # evaluation time does not count against the budget
            if interrupted:
                stop_reason = "interrupted"
                break
            if config.patience is not None and evals_without_improvement >= config.patience:
                stop_reason = "patience"
                break
    if saved_step != step:
        evaluate_and_save()
    bar.update(100 * min(1.0, fraction_done()) - bar.n)
    bar.close()
    return TrainResult(run_dir, step, best_val_loss, stop_reason, history)
