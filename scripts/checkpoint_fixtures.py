"""Write the tiny checkpoints of all four tasks that tests/test_checkpoint.py loads, with whatever seqgen is first
on the path. When the checkpoint format's VERSION moves, keep the checkpoints of the version before:

    git worktree add /tmp/before <last commit of that version>
    PYTHONPATH=/tmp/before python scripts/checkpoint_fixtures.py tests/data/checkpoints/v<that version>
"""

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

import seqgen


def ucr(path: Path, n: int, seed: int) -> str:
    """Two classes of 20 steps: a rising and a falling line, with noise."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        label = 1 if i % 2 else 2
        values = (1 if label == 1 else -1) * np.linspace(-1, 1, 20) + 0.3 * rng.standard_normal(20)
        lines.append(" ".join([str(label)] + [f"{v:.4f}" for v in values]))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="folder for language-model.pt, translate.pt, forecast.pt, classify.pt")
    out = parser.parse_args().output
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"]
        (work / "corpus.txt").write_text(" ".join(np.random.default_rng(0).choice(words, 3000)) + "\n")
        common = {"device": "cpu", "progress": False, "output_dir": str(work)}
        runs = {
            "language-model": seqgen.train("language-model", corpus=str(work / "corpus.txt"), max_steps=3,
                                           eval_interval=3, hidden_size=8, embedding_dim=8, num_layers=1,
                                           batch_size=4, bptt=8, name="lm", **common),
            "translate": seqgen.train("translate", train_pairs=200, max_steps=3, eval_interval=3, hidden_size=8,
                                      embedding_dim=8, batch_size=16, name="dates", **common),
            "forecast": seqgen.train("forecast", corpus="airline", epochs=2, ensemble=1, hidden_size=8,
                                     name="airline", **common),
            "classify": seqgen.train("classify", corpus=ucr(work / "train.ucr", 16, 0), test=ucr(work / "test.ucr", 8, 1),
                                     epochs=2, ensemble=1, hidden_size=8, conv_channels=4, batch_size=8, name="lines",
                                     **common),
        }
        for task, run in runs.items():
            shutil.copy(run.best_path, out / f"{task}.pt")
            print(f"{out / f'{task}.pt'}: {(out / f'{task}.pt').stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
