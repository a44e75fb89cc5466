"""Scoring a classifier: accuracy, macro-F1, per-class precision / recall / F1 / support and the confusion
matrix, the report as text, and the confusion plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqgen.plots import pyplot, save_figure


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
    # Each column as wide as its label or its largest count, two spaces apart, so long labels never run together.
    columns = [max(6, len(c), *(len(str(row[j])) for row in report["confusion"])) for j, c in enumerate(classes)]
    lines += ["", "confusion (rows: true class, columns: predicted)",
              " " * width + "".join(f"  {c:>{w}}" for c, w in zip(classes, columns))]
    for name, row in zip(classes, report["confusion"]):
        lines.append(f"{name:<{width}}" + "".join(f"  {n:>{w}}" for n, w in zip(row, columns)))
    return "\n".join(lines)


def plot_confusion(report: dict, path: str | Path, title: str) -> Path:
    plt = pyplot()

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
