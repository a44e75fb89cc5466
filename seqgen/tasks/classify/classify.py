"""Classifying whole sequences: padding and masking, training with class weights and early stopping on a
validation split carved from the training file, the test report, the confusion plot and the checkpoint."""

from __future__ import annotations

import datetime
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from tqdm import tqdm

from seqgen.checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from seqgen.config import ClassifyConfig, to_dict
from seqgen.data.series import check_known_labels, check_layout, read_labeled_file
from seqgen.device import resolve_device
from seqgen.errors import SeqgenError
from seqgen.models.classify import LSTMClassifier
from seqgen.plots import save_figure

TASK = "classify"


def _sorted_classes(labels: list) -> list:
    """Numeric labels in numeric order (-1 before 1, 2 before 10), others alphabetically."""
    def key(label):
        try:
            return (0, float(label), label)
        except ValueError:
            return (1, 0.0, label)
    return sorted(set(labels), key=key)


def pad(sequences: list, scaling: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled sequences padded with zeros to the longest: values (N, T) and lengths (N,)."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    values = torch.zeros(len(sequences), int(lengths.max()))
    for row, sequence in enumerate(sequences):
        values[row, :len(sequence)] = torch.from_numpy((sequence - scaling["mean"]) / scaling["std"])
    return values, lengths


def _folds(targets: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """A stratified fold number for every example: each class is dealt round the folds in random order."""
    folds = np.zeros(len(targets), dtype=np.int64)
    for c in np.unique(targets):
        members = rng.permutation(np.flatnonzero(targets == c))
        folds[members] = np.arange(len(members)) % count
    return folds


@dataclass
class ClassifyRun:
    run_dir: Path
    epochs: int
    best_val_loss: Optional[float]
    stopped_early: bool
    report: Optional[dict]

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.pt"


def train_classifier(config: ClassifyConfig, progress: bool = True) -> ClassifyRun:
    """Train on the --corpus file, keep the weights of the best validation loss, score --test if given."""
    threads = torch.get_num_threads()
    if resolve_device(config.device).type == "cpu":
        torch.set_num_threads(1)  # networks this small lose more to thread hand-offs than they gain
    try:
        return _train(config, progress)
    finally:
        torch.set_num_threads(threads)


def _train(config: ClassifyConfig, progress: bool) -> ClassifyRun:
    from seqgen.train import _plot_history, _point_last_at, _write_json

    if not config.corpus:
        raise SeqgenError("--task classify needs --corpus TRAIN_FILE: labelled sequences, UCR format (label first) "
                          "or CSV with a label column")
    labels, sequences, layout = read_labeled_file(config.corpus, config.label_column)
    classes = _sorted_classes(labels)
    if len(classes) < 2:
        raise SeqgenError(f"{config.corpus} has only one class ({classes[0]!r}); classification needs two or more")
    test = None
    if config.test:
        test_labels, test_sequences, test_layout = read_labeled_file(config.test, config.label_column)
        check_layout(config.test, test_layout, layout, lengths=False)
        check_known_labels(test_labels, classes, config.test)
        check_layout(config.test, test_layout, layout)
        test = (test_labels, test_sequences)
    device = resolve_device(config.device)
    rng = np.random.default_rng(config.seed)
    everything = np.concatenate(sequences)
    scaling = {"mean": float(everything.mean()), "std": float(everything.std()) or 1.0}
    values, lengths = pad(sequences, scaling)
    targets = torch.tensor([classes.index(label) for label in labels])
    model_config = {"num_classes": len(classes), "hidden_size": config.hidden_size, "num_layers": config.num_layers,
                    "bidirectional": config.bidirectional, "conv_channels": config.conv_channels, "dropout": config.dropout}
    # Member m holds out fold m for early stopping, so the ensemble as a whole learns from every example.
    fold_count = max(2, round(1 / config.val_fraction)) if config.val_fraction > 0 else 1
    folds = _folds(targets.numpy(), fold_count, rng)
    values, lengths, targets = values.to(device), lengths.to(device), targets.to(device)
    epochs = max(1, int(round(config.epochs)))
    bar = tqdm(total=config.ensemble * epochs, disable=not progress, file=sys.stderr, dynamic_ncols=True, desc="classifier")
    members = []
    for m in range(config.ensemble):
        val_rows = np.flatnonzero(folds == m % fold_count) if fold_count > 1 else np.zeros(0, dtype=np.int64)
        train_rows = np.setdiff1d(np.arange(len(labels)), val_rows)
        members.append(_train_member(values, lengths, targets, train_rows, val_rows, model_config, config,
                                     config.seed + m, device, bar))
    bar.close()

    run_dir = Path(config.output_dir) / (config.name or f"{Path(config.corpus).stem}-classify-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    val_losses = [m["best_val_loss"] for m in members if m["best_val_loss"] is not None]
    best_val_loss = float(np.mean(val_losses)) if val_losses else None

    def payload(states: list, report: Optional[dict]) -> dict:
        return {"task": TASK, "train_config": to_dict(config), "model_config": model_config, "classes": classes,
                "scaling": scaling, "layout": layout, "members": states, "best_val_loss": best_val_loss, "test_report": report,
                "training": [{k: v for k, v in m.items() if not k.endswith("state")} for m in members]}

    models = [_rebuild(model_config, m["best_state"], device) for m in members]
    report = None
    if test is not None:
        report = classification_report(test[0], predict_proba(models, scaling, test[1], device), classes)
        plot_confusion(report, run_dir / "confusion.png", f"{Path(config.test).name}: accuracy {report['accuracy']:.3f}")
    save_checkpoint(payload([m["best_state"] for m in members], report), run_dir / "best.pt")
    save_checkpoint(payload([m["last_state"] for m in members], None), run_dir / "latest.pt")
    _point_last_at(run_dir)
    summary = {k: v for k, v in payload([], report).items() if k != "members"}
    _write_json(run_dir / "run.json", {**summary, "train_examples": int(len(labels) - len(members[0]["val_rows"])),
                                        "val_examples": len(members[0]["val_rows"])})
    _plot_history(members[0]["history"], run_dir / "loss.png")  # the first member's curves
    return ClassifyRun(run_dir, max(len(m["history"]) for m in members), best_val_loss,
                       any(m["stopped_early"] for m in members), report)


def _train_member(values, lengths, targets, train_rows, val_rows, model_config, config, seed, device, bar) -> dict:
    """One network: AdamW on train_rows, the weights of the best validation loss kept (the last ones without)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    counts = np.bincount(targets[train_rows].cpu().numpy(), minlength=model_config["num_classes"])
    weights = torch.tensor(len(train_rows) / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32, device=device)
    weights = weights if config.class_weights else None
    model = LSTMClassifier(**model_config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    epochs = max(1, int(round(config.epochs)))
    best_loss, best_state, best_epoch, waited, history = math.inf, None, 0, 0, []
    stopped_early = False
    for epoch in range(1, epochs + 1):
        model.train()
        total = 0.0
        for batch in torch.from_numpy(rng.permutation(train_rows)).split(config.batch_size):
            if len(batch) < 2 and len(train_rows) > 1:
                continue  # batch norm cannot learn from a single example
            loss = torch.nn.functional.cross_entropy(model(values[batch], lengths[batch]), targets[batch], weight=weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += loss.item() * len(batch)
        if not math.isfinite(total):
            raise SeqgenError(f"the training loss became {total} at epoch {epoch}; lower --lr")
        entry = {"step": epoch, "train_loss": total / len(train_rows)}
        if len(val_rows):
            model.eval()
            with torch.no_grad():
                logits = model(values[val_rows], lengths[val_rows])
                entry["val_loss"] = float(torch.nn.functional.cross_entropy(logits, targets[val_rows], weight=weights))
            bar.set_postfix(loss=f"{entry['train_loss']:.3f}", val=f"{entry['val_loss']:.3f}", refresh=False)
        history.append(entry)
        bar.update(1)
        score = entry.get("val_loss", -epoch)  # without a validation split the last epoch is the best
        if score < best_loss:
            best_loss, best_epoch, waited = score, epoch, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if config.patience is not None and waited >= config.patience:
                stopped_early = True
                break
    bar.update(epochs - len(history))
    return {"best_state": best_state, "last_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "history": history, "best_epoch": best_epoch, "best_val_loss": best_loss if len(val_rows) else None,
            "stopped_early": stopped_early, "val_rows": [int(r) for r in val_rows]}


def _rebuild(model_config: dict, state: dict, device) -> LSTMClassifier:
    model = LSTMClassifier(**model_config)
    model.load_state_dict(state)
    return model.to(device).eval()


def load_classifier(path, device="cpu") -> tuple[list, dict]:
    """The ensemble's networks and the checkpoint payload."""
    payload = load_checkpoint(path, task=TASK)
    try:
        models = [_rebuild(payload["model_config"], state, device) for state in payload["members"]]
    except (KeyError, TypeError, RuntimeError) as error:
        raise SeqgenError(f"{resolve_checkpoint(path)} is damaged: {type(error).__name__} while rebuilding the model") from None
    return models, payload


def read_like_training(path, payload: dict, labeled: bool = True) -> tuple[list, list]:
    """(labels, sequences) of a file to classify or score, refused in one line when it is laid out unlike the
    training file (checkpoints written before the layout was stored are not checked)."""
    trained = payload.get("layout")
    label_column = payload["train_config"].get("label_column")
    if isinstance(trained, dict) and trained.get("format") == "csv" and labeled:
        label_column = trained.get("label_column") or label_column
    labels, sequences, layout = read_labeled_file(path, label_column, labeled=labeled)
    trained = trained if isinstance(trained, dict) and {"format", "min_length", "max_length"} <= set(trained) else None
    check_layout(path, layout, trained, labeled=labeled, lengths=False)
    if labeled:
        check_known_labels(labels, payload["classes"], path)
    check_layout(path, layout, trained, labeled=labeled)
    return labels, sequences


def predict_proba(models, scaling: dict, sequences: list, device="cpu", batch_size: int = 256) -> np.ndarray:
    """Class probabilities (N, C) for sequences of any lengths, averaged over the ensemble's networks."""
    models = models if isinstance(models, (list, tuple)) else [models]
    out = []
    with torch.no_grad():
        for start in range(0, len(sequences), batch_size):
            values, lengths = pad(sequences[start:start + batch_size], scaling)
            values, lengths = values.to(device), lengths.to(device)
            out.append(torch.stack([model.eval()(values, lengths).softmax(-1) for model in models]).mean(0).cpu().numpy())
    return np.concatenate(out)


def classification_report(labels: list, probabilities: np.ndarray, classes: list) -> dict:
    """Accuracy, macro-F1, per-class precision / recall / F1 / support and the confusion matrix (rows: true)."""
    truth = np.array([classes.index(label) for label in labels])
    guess = probabilities.argmax(1)
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(confusion, (truth, guess), 1)
    per_class = {}
    for c, name in enumerate(classes):
        hit = confusion[c, c]
        precision = hit / confusion[:, c].sum() if confusion[:, c].sum() else 0.0
        recall = hit / confusion[c].sum() if confusion[c].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                           "support": int(confusion[c].sum())}
    present = [name for name in classes if per_class[name]["support"] or confusion[:, classes.index(name)].sum()]
    return {"examples": len(labels), "accuracy": float((truth == guess).mean()),
            "macro_f1": float(np.mean([per_class[name]["f1"] for name in present])),
            "per_class": per_class, "classes": classes, "confusion": confusion.tolist()}


def format_report(report: dict) -> str:
    classes = report["classes"]
    width = max(8, *(len(c) for c in classes))
    lines = [f"{report['examples']} examples: accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}", "",
             f"{'class':<{width}}  precision  recall      F1  support"]
    for name, s in report["per_class"].items():
        lines.append(f"{name:<{width}}  {s['precision']:>9.3f}  {s['recall']:>6.3f}  {s['f1']:>6.3f}  {s['support']:>7}")
    lines += ["", "confusion (rows: true class, columns: predicted)", " " * width + "".join(f"{c:>8}" for c in classes)]
    for name, row in zip(classes, report["confusion"]):
        lines.append(f"{name:<{width}}" + "".join(f"{n:>8}" for n in row))
    return "\n".join(lines)


def plot_confusion(report: dict, path: str | Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    matrix = np.asarray(report["confusion"])
    classes = report["classes"]
    size = 2.5 + 0.5 * len(classes)
    fig, ax = plt.subplots(figsize=(size, size), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        ax.text(column, row, str(count), ha="center", va="center",
                color="white" if count > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
