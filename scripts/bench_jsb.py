"""JSB chorales, frame-exact: test negative log-likelihood in nats per frame, seqgen's LSTM against the
plain frame-level LSTM (88 independent sigmoid outputs, the model of Chung et al. 2014), same budget.

Data: the standard split of Boulanger-Lewandowski et al. (2012), 229 / 76 / 77 chorales of quarter-note
frames, read from ../shared/data/jsb-chorales/jsb_chorales.json (or --data). Both arms train on the same
training chorales (with --augment, also on copies transposed by up to that many semitones each way), keep
their weights of best validation NLL, and are scored on the whole test split, each chorale on its own from
a zero state.

- seqgen: `seqgen.train("language-model", corpus=<the json>)`, the frame encoding of seqgen.music.frames
  (each frame's pitches ascending, then a frame-end token; tokens that cannot come next are masked), so
  the sum of a frame's token log-probabilities is the frame's log-likelihood.
- baseline: Embedding-free LSTM over the 88-key binary frame of the previous step, a linear layer to 88
  logits, each key an independent Bernoulli: NLL per frame is the sum of 88 binary cross-entropies.

Each arm runs in its own process with one thread, budgeted by the CPU time that process received
(--clock cpu), so a machine shared with other work cannot favour either arm. Each arm then writes
generated pieces as MIDI (quarter-note frames, held notes tied) and their statistics beside the test
split's. Writes JSON.

    python scripts/bench_jsb.py --minutes 20 --output benchmarks/jsb.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "jsb-chorales" / "jsb_chorales.json"
PUBLISHED = {  # nats per frame, test split
    "LSTM (Chung et al. 2014)": 8.67,
    "GRU (Chung et al. 2014)": 8.54,
    "TCN (Bai, Kolter and Koltun 2018)": 8.10,
    "RNN-NADE (Boulanger-Lewandowski et al. 2012)": 5.19,
}
KEYS, LOWEST = 88, 21


# -- the baseline: 88 independent sigmoids ----------------------------------------------------------
class FrameLSTM(nn.Module):
    """The previous frame (88 keys, binary) → LSTM → 88 logits for the next frame."""

    def __init__(self, hidden_size: int, num_layers: int, dropout: float):
        super().__init__()
        self.lstm = nn.LSTM(KEYS, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, KEYS)

    def forward(self, frames):  # (B, T, 88) → (B, T, 88)
        x, _ = self.lstm(frames)
        return self.head(self.drop(x))


def rolls(pieces) -> list[torch.Tensor]:
    out = []
    for piece in pieces:
        roll = torch.zeros(len(piece), KEYS)
        for t, frame in enumerate(piece):
            roll[t, [p - LOWEST for p in frame]] = 1.0
        out.append(roll)
    return out


def batch_of(group: list[torch.Tensor]):
    """Inputs (the previous frame, zeros before the first), targets and a mask of real frames, (B, T, 88)."""
    longest = max(len(r) for r in group)
    targets = torch.zeros(len(group), longest, KEYS)
    mask = torch.zeros(len(group), longest)
    for row, roll in enumerate(group):
        targets[row, :len(roll)] = roll
        mask[row, :len(roll)] = 1.0
    inputs = torch.cat([torch.zeros(len(group), 1, KEYS), targets[:, :-1]], dim=1)
    return inputs, targets, mask


def frame_nll(model, pieces: list[torch.Tensor], batch_size: int = 32) -> float:
    model.eval()
    total, frames = 0.0, 0
    with torch.no_grad():
        for first in range(0, len(pieces), batch_size):
            inputs, targets, mask = batch_of(pieces[first:first + batch_size])
            nll = nn.functional.binary_cross_entropy_with_logits(model(inputs), targets, reduction="none").sum(-1)
            total += float((nll * mask).sum())
            frames += int(mask.sum())
    model.train()
    return total / frames


def baseline_arm(args) -> dict:
    from seqgen.data.pianoroll import read_pianoroll
    from seqgen.music.frames import transpose_frames

    _, splits = read_pianoroll(args.data)
    train = [moved for piece in splits["train"] for shift in range(-args.augment, args.augment + 1)
             if (moved := transpose_frames(piece, shift)) is not None]
    train, val, test = rolls(train), rolls(splits["val"]), rolls(splits["test"])
    torch.manual_seed(args.seed)
    model = FrameLSTM(args.baseline_hidden_size, args.baseline_num_layers, args.baseline_dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.baseline_lr)
    generator = torch.Generator().manual_seed(args.seed)
    step, elapsed, best, best_state, history = 0, 0.0, math.inf, None, []
    while elapsed < args.minutes * 60:
        tick = time.perf_counter()
        chosen = torch.randint(len(train), (args.baseline_batch_size,), generator=generator).tolist()
        inputs, targets, mask = batch_of([train[i] for i in chosen])
        nll = nn.functional.binary_cross_entropy_with_logits(model(inputs), targets, reduction="none").sum(-1)
        loss = (nll * mask).sum() / mask.sum()
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        elapsed += time.perf_counter() - tick
        if step % 100 == 0 or elapsed >= args.minutes * 60:
            val_nll = frame_nll(model, val)
            history.append({"step": step, "minutes": round(elapsed / 60, 2), "val_nll_per_frame": round(val_nll, 4)})
            if val_nll < best:
                best, best_state = val_nll, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    pieces = sample_baseline(model, args.num_generated, round(np.mean([len(p) for p in splits["test"]])), args.seed)
    return {"steps": step, "best_val_nll_per_frame": best, "val_nll_per_frame": frame_nll(model, val),
            "test_nll_per_frame": frame_nll(model, test), "history": history,
            "recipe": {"hidden_size": args.baseline_hidden_size, "num_layers": args.baseline_num_layers,
                       "dropout": args.baseline_dropout, "lr": args.baseline_lr, "batch_size": args.baseline_batch_size,
                       "optimizer": "Adam", "augment": args.augment},
            "generated": write_samples(pieces, splits["test"], Path(args.samples) / "baseline")}


def sample_baseline(model, count: int, frames: int, seed: int) -> list[list[list[int]]]:
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    out = [[] for _ in range(count)]
    with torch.no_grad():
        previous, state = torch.zeros(count, 1, KEYS), None
        for _ in range(frames):
            x, state = model.lstm(previous, state)
            probabilities = torch.sigmoid(model.head(x))  # (N, 1, 88)
            previous = torch.bernoulli(probabilities, generator=generator)
            for row in range(count):
                out[row].append([LOWEST + int(k) for k in torch.nonzero(previous[row, 0]).flatten()])
    return out


# -- seqgen -----------------------------------------------------------------------------------------
def seqgen_arm(args) -> dict:
    import seqgen
    from seqgen.data.pianoroll import read_pianoroll
    from seqgen.decode.sampling import Sampling
    from seqgen.music.frames import piece_to_frames
    from seqgen.tasks.language_model.evaluate import frame_loss
    from seqgen.tasks.language_model.music import generate_frame_pieces

    options = {"corpus": args.data, "augment": args.augment, "max_time": args.minutes, "seed": args.seed,
               "hidden_size": args.hidden_size, "num_layers": args.num_layers, "embedding_dim": args.embedding_dim,
               "dropout": args.dropout, "batch_size": args.batch_size, "bptt": args.bptt, "lr": args.lr,
               "eval_interval": args.eval_interval, "device": "cpu", "precision": "fp32"}
    with tempfile.TemporaryDirectory() as out:
        result = seqgen.train("language-model", output_dir=out, name="jsb", progress=False, **options)
        lm = seqgen.load(result.best_path, "cpu")
    _, splits = read_pianoroll(args.data)
    tokenizer = lm.tokenizer
    scores = {}
    for split in ("val", "test"):
        ids = np.array([i for piece in splits[split] for i in tokenizer.encode_frames(piece)])
        scores[split] = frame_loss(lm.model, ids, tokenizer, "cpu")[0]
    frames = round(np.mean([len(p) for p in splits["test"]]))
    generated = generate_frame_pieces(lm.model, tokenizer, [tokenizer.piece_id], args.num_generated, 12 * frames,
                                      Sampling(temperature=1.0), seed=args.seed, device=torch.device("cpu"),
                                      frames=frames)
    pieces = [piece_to_frames(piece) for piece in generated]
    corpus = os.path.relpath(args.data, ROOT)  # as the command is typed in the repository
    history = [{"step": h["step"], "minutes": round(h["elapsed"] / 60, 2), "val_loss": round(h["val_loss"], 4),
                "val_nll_per_frame": round(h.get("val_loss_per_quarter", float("nan")), 4)}
               for h in result.history if h.get("val_loss") is not None]
    return {"steps": result.step, "best_val_loss_per_token": result.best_val_loss, "val_nll_per_frame": scores["val"],
            "test_nll_per_frame": scores["test"], "history": history, "recipe": {**options, "corpus": corpus},
            "command": f"seqgen train --corpus {corpus} " + " ".join(f"--{k.replace('_', '-')} {v}"
                                                                   for k, v in options.items() if k != "corpus"),
            "generated": write_samples(pieces, splits["test"], Path(args.samples) / "seqgen")}


# -- generated pieces beside the test split ---------------------------------------------------------
def write_samples(pieces: list[list[list[int]]], test: list, folder: Path) -> dict:
    """Write the first four as MIDI and compare all of them with the test chorales (seqgen.music.stats)."""
    from seqgen.music.frames import frames_to_piece
    from seqgen.music.scores import write_piece
    from seqgen.music.stats import compare

    generated = [frames_to_piece(frames, f"sample {n}") for n, frames in enumerate(pieces, 1)]
    reference = [frames_to_piece(frames, f"test {n}") for n, frames in enumerate(test, 1)]
    folder.mkdir(parents=True, exist_ok=True)
    files = [os.path.relpath(write_piece(piece, folder / f"sample-{n}.mid", "midi", 1), ROOT)
             for n, piece in enumerate(generated[:4], 1) if piece["notes"]]
    stats = compare(generated, reference, 1)
    voices = lambda frames_list: float(np.mean([len(f) for frames in frames_list for f in frames]))  # noqa: E731
    stats["generated"]["notes_per_frame"] = voices(pieces)
    stats["corpus"]["notes_per_frame"] = voices(test)
    return {"pieces": len(generated), "frames_each": len(pieces[0]) if pieces else 0, "temperature": 1.0,
            "midi": files, **stats}


def run_arm(job):
    name, args = job
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # seqgen's thread policy keeps to it too
    # Budget by the CPU time this process received: other work on the machine cannot favour an arm. The
    # seqgen training core times its steps with time.perf_counter, so it runs on the same clock.
    time.perf_counter = time.process_time
    started = time.perf_counter()
    try:
        result = seqgen_arm(args) if name == "seqgen" else baseline_arm(args)
    except Exception:  # one arm's failure must not lose the other's figures
        import traceback

        result = {"error": traceback.format_exc()}
    result["cpu_seconds"] = round(time.perf_counter() - started, 1)
    return name, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="training CPU minutes per arm")
    parser.add_argument("--data", default=str(DATA), help="the piano-roll JSON file")
    parser.add_argument("--augment", type=int, default=5, help="train on copies transposed by up to N semitones")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--bptt", type=int, default=64)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--eval-interval", type=int, default=500)
    parser.add_argument("--baseline-hidden-size", type=int, default=256)
    parser.add_argument("--baseline-num-layers", type=int, default=1)
    parser.add_argument("--baseline-dropout", type=float, default=0.3)
    parser.add_argument("--baseline-lr", type=float, default=2e-3)
    parser.add_argument("--baseline-batch-size", type=int, default=16)
    parser.add_argument("--num-generated", type=int, default=16)
    parser.add_argument("--arms", default="seqgen,baseline")
    parser.add_argument("--samples", default=str(ROOT / "benchmarks" / "jsb-samples"), help="folder for generated MIDI")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "jsb.json"))
    args = parser.parse_args()
    if not Path(args.data).is_file():
        sys.exit(f"error: {args.data} not found; pass --data")
    names = args.arms.split(",")
    with multiprocessing.get_context("spawn").Pool(len(names)) as pool:
        arms = dict(pool.map(run_arm, [(name, args) for name in names]))
    report = {
        "benchmark": "JSB chorales, test NLL in nats per frame (Boulanger-Lewandowski et al. 2012 split)",
        "command": "python scripts/bench_jsb.py " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cores": os.cpu_count(), "torch": torch.__version__,
                    "clock": "CPU time of each arm's process (one thread each, the arms in parallel)",
                    "load_average_at_end": os.getloadavg()},
        "minutes": args.minutes,
        "published_test_nll_per_frame": PUBLISHED,
        "arms": arms,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    for name, arm in arms.items():
        if "error" in arm:
            print(f"{name:8s} failed:\n{arm['error']}")
        else:
            print(f"{name:8s} test {arm['test_nll_per_frame']:.3f} nats/frame (val {arm['val_nll_per_frame']:.3f}) "
                  f"after {arm['steps']} steps")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
