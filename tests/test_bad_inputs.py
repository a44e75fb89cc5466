"""The permanent guard of issue 10: a table of bad inputs per command. Every row asserts the promise for bad
input: one line starting "Error: ", a non-zero exit, no traceback, and no file changed (the run folders, the
input files and the working folder are compared byte for byte before and after).

A new case is one row: `(id, build, expected)`, where `build(w)` makes the inputs it needs under `w.dir` and
returns the command line (a list of arguments, or `(arguments, stdin)`), and `expected` is a substring of the
one line. Rows of the Python API return a function to call instead, which must raise SeqgenError.
"""

import errno
import hashlib
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mido
import numpy as np
import pytest
import torch
from conftest import make_text, one_line_error, run

import seqgen
from seqgen.checkpoint import load_checkpoint
from seqgen.errors import SeqgenError

AIRLINE = Path(seqgen.__file__).parent / "data" / "airline.csv"
QUIET = ["--device", "cpu", "--quiet"]
LM = ["--max-steps", 3, "--eval-interval", 3, "--hidden-size", 16, "--embedding-dim", 8, "--num-layers", 1,
      "--batch-size", 2, "--bptt", 8, "--eval-batch-size", 2, "--sample-length", 0, *QUIET]


# -- the world every row runs in: tiny trained runs of every task, built once ------------------------------

@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """The snapshotted folder: runs, inputs and the working folder. The music parse cache lives outside it."""
    base = tmp_path_factory.mktemp("bad-inputs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEQGEN_CACHE", str(tmp_path_factory.mktemp("cache")))
        (base / "cwd").mkdir()
        patch.chdir(base / "cwd")
        yield base


def _train(root, name, *args):
    result = run("train", *args, "--output-dir", root / "runs", "--name", name)
    assert result.exit_code == 0, (result.output, result.exc_info)
    return root / "runs" / name


@pytest.fixture(scope="module")
def text_corpus(root):
    path = root / "inputs" / "corpus.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(make_text(600), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def lm_run(root, text_corpus):
    return _train(root, "lm", "--corpus", text_corpus, *LM)


def _midi(path, shift):
    """A tiny two-bar tune, written with mido (faster than music21)."""
    song = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    for pitch in (60, 62, 64, 65, 67, 69, 71, 72):
        track.append(mido.Message("note_on", note=pitch + shift, velocity=80, time=0))
        track.append(mido.Message("note_off", note=pitch + shift, velocity=0, time=480))
    song.tracks.append(track)
    song.save(str(path))
    return path


@pytest.fixture(scope="module")
def music_run(root):
    folder = root / "inputs" / "midi"
    folder.mkdir(parents=True)
    for shift in range(3):
        _midi(folder / f"tune{shift}.mid", shift)
    return _train(root, "music", "--corpus", folder, *LM)


@pytest.fixture(scope="module")
def translate_run(root):
    return _train(root, "translate", "--task", "translate", "--corpus", "dates", "--train-pairs", 200, "--max-steps", 3,
                  "--eval-interval", 3, "--embedding-dim", 8, "--hidden-size", 8, "--batch-size", 8, "--sample-length", 0,
                  *QUIET)


@pytest.fixture(scope="module")
def forecast_run(root):
    return _train(root, "forecast", "--task", "forecast", "--corpus", "airline", "--epochs", 3, "--ensemble", 1,
                  "--hidden-size", 8, *QUIET)


def _ucr(path, n=16, length=20, seed=0):
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        label = 1 if i % 2 else 2
        values = (1 if label == 1 else -1) * np.linspace(-1, 1, length) + 0.3 * rng.standard_normal(length)
        lines.append(" ".join([str(label)] + [f"{v:.4f}" for v in values]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def classify_data(root):
    (root / "inputs").mkdir(exist_ok=True)
    return _ucr(root / "inputs" / "train.ucr", 16), _ucr(root / "inputs" / "test.ucr", 8, seed=1)


@pytest.fixture(scope="module")
def classify_run(root, classify_data):
    train, test = classify_data
    return _train(root, "classify", "--task", "classify", "--corpus", train, "--test", test, "--epochs", 3,
                  "--ensemble", 1, "--hidden-size", 8, "--conv-channels", 4, "--batch-size", 8, *QUIET)


class World:
    """What a row builds from: the trained runs (built on first use), files it writes under `dir`."""

    RUNS = {"lm": "lm_run", "music": "music_run", "tr": "translate_run", "fc": "forecast_run", "cl": "classify_run"}

    def __init__(self, request, root, folder):
        self._request, self.root, self.dir = request, root, folder

    def __getattr__(self, name):
        if name in self.RUNS:
            return self._request.getfixturevalue(self.RUNS[name])
        if name == "corpus":
            return self._request.getfixturevalue("text_corpus")
        if name == "ucr":
            return self._request.getfixturevalue("classify_data")[0]
        raise AttributeError(name)

    def file(self, name, content=b""):
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    def folder(self, name, **files):
        path = self.dir / name
        path.mkdir(parents=True)
        for file_name, content in files.items():
            self.file(f"{name}/{file_name.replace('_', '.')}", content)
        return path

    def damaged(self, run, damage):
        """A copy of the run's best.pt with `damage` done to it."""
        return DAMAGES[damage](self, Path(run) / "best.pt")


def snapshot(folder: Path) -> dict:
    state = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            state[path] = ("link", os.readlink(path))
        elif path.is_dir():
            state[path] = ("dir",)
        else:
            stat = path.stat()
            state[path] = (hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_mtime_ns, stat.st_size)
    return state


def assert_unchanged(before: dict, after: dict) -> None:
    added = sorted(str(p) for p in set(after) - set(before))
    removed = sorted(str(p) for p in set(before) - set(after))
    changed = sorted(str(p) for p in set(before) & set(after) if before[p] != after[p])
    assert not (added or removed or changed), f"added {added}, removed {removed}, changed {changed}"


@pytest.fixture
def world(request, root):
    folder = root / "rows" / request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    folder.mkdir(parents=True)
    return World(request, root, folder)


# -- damaged checkpoints ----------------------------------------------------------------------------------------

class Planted:
    """A pickled object that writes a marker file when unpickled, as a planted checkpoint would run code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _edited(edit):
    def make(w, good):
        payload = torch.load(good, weights_only=True)
        edit(payload)
        path = w.dir / "bad.pt"
        torch.save(payload, path)
        return path
    return make


def _raw(data):
    def make(w, good):
        return w.file("bad.pt", data(good) if callable(data) else data)
    return make


def _short_vocabulary(payload):
    """The tokenizer (or class list) shorter than the model's output."""
    for key in ("tokenizer", "source_tokenizer"):
        if key in payload and payload[key].get("kind") == "char":
            payload[key]["chars"] = payload[key]["chars"][:-2]
            return
        if key in payload and payload[key].get("kind") == "music":
            payload["model_config"]["vocab_size"] += 3
            return
    if "classes" in payload:
        payload["classes"] = payload["classes"][:1]
    else:  # forecast: no tokenizer; its residuals per step are its output table
        payload["residual_std"] = payload["residual_std"][:-1]


def _pickle_with_code(w, good):
    path = w.dir / "bad.pt"
    torch.save({"format": "seqgen-checkpoint", "version": 1, "task": "language-model",
                "model_state": Planted(w.dir / "ran")}, path)
    return path


DAMAGES = {
    "truncated": _raw(lambda good: good.read_bytes()[: good.stat().st_size // 2]),
    "random-bytes": _raw(np.random.default_rng(0).bytes(4096)),
    "foreign-torch": _raw(lambda good: _torch_bytes({"state_dict": {"w": torch.zeros(3)}, "epoch": 3})),
    "pickle-with-code": _pickle_with_code,
    "version-string": _edited(lambda p: p.update(version="1")),
    "version-99": _edited(lambda p: p.update(version=99)),
    "task-missing": _edited(lambda p: p.pop("task")),
    "model-config-list": _edited(lambda p: p.update(model_config=[1, 2])),
    "short-vocabulary": _edited(_short_vocabulary),
    "model-state-missing": _edited(lambda p: p.pop("model_state" if "model_state" in p else "members")),
}
DAMAGE_EXPECTED = {
    "truncated": "not a readable seqgen checkpoint", "random-bytes": "not a readable seqgen checkpoint",
    "foreign-torch": "not a seqgen checkpoint", "pickle-with-code": "not a seqgen checkpoint",
    "version-string": "format version is '1'", "version-99": "newer seqgen", "task-missing": "which task",
    "model-config-list": "is damaged", "short-vocabulary": "is damaged", "model-state-missing": "is damaged",
}


def _torch_bytes(obj):
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


# The command that loads each task's checkpoint.
USES = {
    "lm": lambda w, ckpt: ["sample", ckpt, "--length", 5, "--seed", 1],
    "music": lambda w, ckpt: ["sample", ckpt, "--length", 5, "--seed", 1, "--output", w.dir / "out.mid"],
    "tr": lambda w, ckpt: ["translate", ckpt, "3 May 1979"],
    "fc": lambda w, ckpt: ["forecast", ckpt],
    "cl": lambda w, ckpt: ["classify", ckpt, w.ucr],
}

CHECKPOINT_ROWS = [
    (f"{task}-{damage}", (lambda t, d: lambda w: USES[t](w, w.damaged(getattr(w, t), d)))(task, damage),
     DAMAGE_EXPECTED[damage])
    for task in ("lm", "tr", "fc", "cl") for damage in DAMAGES
] + [
    (f"music-{damage}", (lambda d: lambda w: USES["music"](w, w.damaged(w.music, d)))(damage), DAMAGE_EXPECTED[damage])
    for damage in ("short-vocabulary", "model-config-list", "model-state-missing")
] + [
    (f"evaluate-{task}-{damage}", (lambda t, d: lambda w: ["evaluate", w.damaged(getattr(w, t), d)])(task, damage),
     DAMAGE_EXPECTED[damage])
    for task, damage in (("lm", "short-vocabulary"), ("tr", "short-vocabulary"), ("fc", "model-config-list"),
                         ("cl", "short-vocabulary"), ("lm", "pickle-with-code"))
] + [
    ("resume-lm-version-99", lambda w: ["train", "--resume", w.damaged(w.lm, "version-99")], "newer seqgen"),
    ("resume-lm-truncated", lambda w: ["train", "--resume", w.damaged(w.lm, "truncated")], "not a readable"),
    ("resume-tr-model-config-list", lambda w: ["train", "--task", "translate", "--resume",
                                               w.damaged(w.tr, "model-config-list")], "is damaged"),
    ("resume-fc-pickle-with-code", lambda w: ["train", "--task", "forecast", "--resume",
                                              w.damaged(w.fc, "pickle-with-code")], "not a seqgen checkpoint"),
    ("missing-checkpoint", lambda w: ["sample", w.dir / "nothing.pt"], "does not exist"),
    ("checkpoint-is-a-text-file", lambda w: ["sample", w.corpus], "not a readable seqgen checkpoint"),
    ("empty-run-folder", lambda w: ["evaluate", w.folder("empty-run")], "does not exist"),
]


# -- the table --------------------------------------------------------------------------------------------------

BINARY_LATE_NUL = make_text(3000).encode() + b"\x00tail\n"  # the NUL well past the first 8 KB
UTF16 = make_text(300).encode("utf-16")
LATIN1 = "Caf\xe9 na\xefve \xfcber alles.\n".encode("latin-1") * 20

FILE_ROWS = [
    ("train-empty", lambda w: ["train", "--corpus", w.file("empty.txt"), *LM], "is empty"),
    ("train-blank", lambda w: ["train", "--corpus", w.file("blank.txt", "\n \n\t\n"), *LM], "is empty"),
    ("train-binary-late-nul", lambda w: ["train", "--corpus", w.file("late.txt", BINARY_LATE_NUL), *LM],
     f"NUL byte at offset {len(make_text(3000).encode())}"),
    ("train-binary-in-folder", lambda w: ["train", "--corpus", w.folder("texts", a_txt="fine\n", b_txt=BINARY_LATE_NUL),
                                          *LM], "binary"),
    ("train-utf16", lambda w: ["train", "--corpus", w.file("wide.txt", UTF16), *LM], "--encoding utf-16"),
    ("train-latin1-as-utf8", lambda w: ["train", "--corpus", w.file("latin.txt", LATIN1), *LM], "--encoding latin-1"),
    ("train-folder-without-txt", lambda w: ["train", "--corpus", w.folder("notext", a_csv="1,2\n"), *LM],
     "holds no .txt files"),
    ("train-missing-path", lambda w: ["train", "--corpus", w.dir / "nowhere.txt", *LM], "no such file or folder"),
    ("train-unknown-encoding", lambda w: ["train", "--corpus", w.corpus, "--encoding", "klingon", *LM],
     "unknown text encoding"),
    ("train-music-only-corrupt", lambda w: ["train", "--corpus", w.folder("bad-midi", a_mid=b"MThd\x00garbage",
                                                                          b_mid=b""), *LM], "no usable music"),
    ("train-pairs-no-usable", lambda w: ["train", "--task", "translate", "--corpus",
                                         w.file("p.tsv", "no tab\nnor here\n\n"), *LM[:2], *QUIET], "no usable pairs"),
    ("train-pairs-empty", lambda w: ["train", "--task", "translate", "--corpus", w.file("p.tsv"), *LM[:2], *QUIET],
     "p.tsv"),
    ("train-pairs-binary", lambda w: ["train", "--task", "translate", "--corpus", w.file("p.tsv", b"a\tb\n\x00\x01\t\x02\n"),
                                      *LM[:2], *QUIET], "NUL"),
    ("train-pairs-utf16", lambda w: ["train", "--task", "translate", "--corpus", w.file("p.tsv", "a\tb\n".encode("utf-16")),
                                     *LM[:2], *QUIET], "p.tsv"),
    ("train-pairs-missing", lambda w: ["train", "--task", "translate", "--corpus", w.dir / "none.tsv", *QUIET],
     "no pairs file"),
    ("train-series-text-values", lambda w: ["train", "--task", "forecast", "--corpus",
                                            w.file("s.csv", "month,sales\n" + "".join(f"2000-{m:02d},{'abc' if m == 5 else m}\n"
                                                                                     for m in range(1, 13)) * 3),
                                            "--epochs", 1, *QUIET], "line 6"),
    ("train-series-empty", lambda w: ["train", "--task", "forecast", "--corpus", w.file("s.csv"), *QUIET], "is empty"),
    ("train-series-binary", lambda w: ["train", "--task", "forecast", "--corpus", w.file("s.csv", b"a,1\n\x00\n"), *QUIET],
     "binary"),
    ("train-series-missing", lambda w: ["train", "--task", "forecast", "--corpus", w.dir / "none.csv", *QUIET], "none.csv"),
    ("train-ucr-label-only", lambda w: ["train", "--task", "classify", "--corpus",
                                        w.file("u.txt", "1 0.5 0.6 0.7\n2\n1 0.1 0.2 0.3\n"), *QUIET], "line 2"),
    ("train-ucr-empty", lambda w: ["train", "--task", "classify", "--corpus", w.file("u.txt"), *QUIET], "is empty"),
    ("train-ucr-text-values", lambda w: ["train", "--task", "classify", "--corpus",
                                         w.file("u.txt", "1 0.5 x 0.7\n2 0.1 0.2 0.3\n"), *QUIET], "line 1"),
    ("train-classify-no-corpus", lambda w: ["train", "--task", "classify", *QUIET], "--corpus"),
    ("sample-prime-file-binary", lambda w: ["sample", w.lm, "--prime-file", w.file("p.txt", b"ab\x00cd")], "binary"),
    ("sample-prime-file-utf16", lambda w: ["sample", w.lm, "--prime-file", w.file("p.txt", "the".encode("utf-16"))],
     "--encoding utf-16"),
    ("sample-prime-file-missing", lambda w: ["sample", w.lm, "--prime-file", w.dir / "none.txt"], "none.txt"),
    ("sample-prime-unknown-char", lambda w: ["sample", w.lm, "--prime", "\u2603"], "cannot be encoded"),
    ("sample-prime-midi-corrupt", lambda w: ["sample", w.music, "--prime-midi", w.file("bad.mid", b"MThd\x00junk"),
                                             "--output", w.dir / "o.mid", "--seed", 1], "bad.mid"),
    ("sample-prime-midi-missing", lambda w: ["sample", w.music, "--prime-midi", w.dir / "none.mid",
                                             "--output", w.dir / "o.mid", "--seed", 1], "none.mid"),
    ("evaluate-lm-text-empty", lambda w: ["evaluate", w.lm, "--text", w.file("e.txt")], "is empty"),
    ("evaluate-lm-text-binary", lambda w: ["evaluate", w.lm, "--text", w.file("e.txt", BINARY_LATE_NUL)], "binary"),
    ("evaluate-lm-text-missing", lambda w: ["evaluate", w.lm, "--text", w.dir / "none.txt"], "none.txt"),
    ("evaluate-tr-pairs-no-usable", lambda w: ["evaluate", w.tr, "--pairs", w.file("p.tsv", "no tab\n")], "no usable pairs"),
    ("evaluate-tr-pairs-missing", lambda w: ["evaluate", w.tr, "--pairs", w.dir / "none.tsv"], "none.tsv"),
    ("classify-empty", lambda w: ["classify", w.cl, w.file("u.txt")], "is empty"),
    ("classify-label-only", lambda w: ["classify", w.cl, w.file("u.txt", "1\n")], "u.txt"),
    ("classify-missing", lambda w: ["classify", w.cl, w.dir / "none.txt"], "none.txt"),
    ("classify-binary", lambda w: ["classify", w.cl, w.file("u.txt", b"1 0.5\x00 0.2\n")], "binary"),
    ("evaluate-cl-test-unseen-label", lambda w: ["evaluate", w.cl, "--test",
                                                 w.file("u.txt", "7 " + " ".join(["0.5"] * 20) + "\n")], "7"),
]

OPTION_ROWS = [
    # non-finite, negative and zero values of every kind of option
    ("sample-temperature-nan", lambda w: ["sample", w.lm, "--temperature", "nan"], "--temperature"),
    ("sample-temperature-inf", lambda w: ["sample", w.lm, "--temperature", "inf"], "--temperature"),
    ("sample-temperature-negative", lambda w: ["sample", w.lm, "--temperature", -1], "--temperature"),
    ("sample-top-p-zero", lambda w: ["sample", w.lm, "--top-p", 0], "--top-p"),
    ("sample-top-p-nan", lambda w: ["sample", w.lm, "--top-p", "nan"], "--top-p"),
    ("sample-top-p-over-one", lambda w: ["sample", w.lm, "--top-p", 1.5], "--top-p"),
    ("sample-top-k-zero", lambda w: ["sample", w.lm, "--top-k", 0], "--top-k"),
    ("sample-length-zero", lambda w: ["sample", w.lm, "--length", 0], "--length"),
    ("sample-num-samples-zero", lambda w: ["sample", w.lm, "--num-samples", 0], "--num-samples"),
    ("sample-seed-negative", lambda w: ["sample", w.lm, "--seed", -1], "--seed"),
    ("sample-length-not-a-number", lambda w: ["sample", w.lm, "--length", "ten"], "--length"),
    ("train-lr-inf", lambda w: ["train", "--corpus", w.corpus, *LM, "--lr", "inf"], "--lr"),
    ("train-lr-nan", lambda w: ["train", "--corpus", w.corpus, *LM, "--lr", "nan"], "--lr"),
    ("train-lr-zero", lambda w: ["train", "--corpus", w.corpus, *LM, "--lr", 0], "--lr"),
    ("train-lr-negative", lambda w: ["train", "--corpus", w.corpus, *LM, "--lr", -1], "--lr"),
    ("train-dropout-2", lambda w: ["train", "--corpus", w.corpus, *LM, "--dropout", 2], "--dropout"),
    ("train-dropout-nan", lambda w: ["train", "--corpus", w.corpus, *LM, "--dropout", "nan"], "--dropout"),
    ("train-bptt-zero", lambda w: ["train", "--corpus", w.corpus, *LM, "--bptt", 0], "--bptt"),
    ("train-batch-size-zero", lambda w: ["train", "--corpus", w.corpus, *LM, "--batch-size", 0], "--batch-size"),
    ("train-max-steps-zero", lambda w: ["train", "--corpus", w.corpus, *LM, "--max-steps", 0], "--max-steps"),
    ("train-epochs-nan", lambda w: ["train", "--corpus", w.corpus, *LM, "--epochs", "nan"], "--epochs"),
    ("train-max-time-inf", lambda w: ["train", "--corpus", w.corpus, *LM, "--max-time", "inf"], "--max-time"),
    ("train-weight-decay-inf", lambda w: ["train", "--corpus", w.corpus, *LM, "--weight-decay", "inf"], "--weight-decay"),
    ("train-grad-clip-negative", lambda w: ["train", "--corpus", w.corpus, *LM, "--grad-clip", -1], "--grad-clip"),
    ("train-val-fraction-nan", lambda w: ["train", "--corpus", w.corpus, *LM, "--val-fraction", "nan"], "--val-fraction"),
    ("train-forget-bias-inf", lambda w: ["train", "--corpus", w.corpus, *LM, "--forget-bias", "-inf"], "--forget-bias"),
    ("train-seed-negative", lambda w: ["train", "--corpus", w.corpus, *LM, "--seed", -5], "--seed"),
    ("train-fractions-leave-nothing", lambda w: ["train", "--corpus", w.corpus, *LM, "--val-fraction", 0.5,
                                                 "--test-fraction", 0.5], "--val-fraction"),
    ("train-vocab-size-one", lambda w: ["train", "--corpus", w.corpus, *LM, "--tokenizer", "bpe", "--vocab-size", 1],
     "--vocab-size"),
    ("train-forecast-window-one", lambda w: ["train", "--task", "forecast", "--window", 1, *QUIET], "--window"),
    ("train-forecast-horizon-zero", lambda w: ["train", "--task", "forecast", "--horizon", 0, *QUIET], "--horizon"),
    ("train-forecast-epochs-inf", lambda w: ["train", "--task", "forecast", "--epochs", "inf", *QUIET], "--epochs"),
    ("train-classify-val-fraction-nan", lambda w: ["train", "--task", "classify", "--corpus", w.ucr, "--val-fraction",
                                                   "nan", *QUIET], "--val-fraction"),
    ("train-translate-max-length-zero", lambda w: ["train", "--task", "translate", "--max-length", 0, *QUIET],
     "--max-length"),
    ("translate-length-penalty-nan", lambda w: ["translate", w.tr, "x", "--length-penalty", "nan"], "--length-penalty"),
    ("translate-length-penalty-inf", lambda w: ["translate", w.tr, "x", "--length-penalty", "inf"], "--length-penalty"),
    ("translate-length-penalty-negative", lambda w: ["translate", w.tr, "x", "--length-penalty", -1], "--length-penalty"),
    ("translate-beam-size-zero", lambda w: ["translate", w.tr, "x", "--beam-size", 0], "--beam-size"),
    ("translate-max-len-zero", lambda w: ["translate", w.tr, "x", "--max-len", 0], "--max-len"),
    ("forecast-horizon-zero", lambda w: ["forecast", w.fc, "--horizon", 0], "--horizon"),
    ("forecast-horizon-100000", lambda w: ["forecast", w.fc, "--horizon", 100000], "at most 144 steps"),
    ("evaluate-batch-size-zero", lambda w: ["evaluate", w.lm, "--batch-size", 0], "--batch-size"),
    ("evaluate-beam-size-huge", lambda w: ["evaluate", w.tr, "--beam-size", 1000], "--beam-size"),
    ("evaluate-holdout-zero", lambda w: ["evaluate", w.fc, "--holdout", 0], "--holdout"),
    ("evaluate-fc-holdout-huge", lambda w: ["evaluate", w.fc, "--holdout", 100000], "--holdout"),
    ("train-threads-zero", lambda w: ["train", "--corpus", w.corpus, *LM, "--threads", 0], "--threads"),
    ("train-threads-huge", lambda w: ["train", "--corpus", w.corpus, *LM, "--threads", 100000], "--threads"),
    ("train-forecast-threads-zero", lambda w: ["train", "--task", "forecast", "--threads", 0, *QUIET], "--threads"),
    ("resume-threads-zero", lambda w: ["train", "--resume", w.lm, "--threads", 0], "--threads"),
    ("sample-threads-zero", lambda w: ["sample", w.lm, "--threads", 0], "--threads"),
    ("evaluate-threads-zero", lambda w: ["evaluate", w.lm, "--threads", 0], "--threads"),
    ("translate-threads-zero", lambda w: ["translate", w.tr, "x", "--threads", 0], "--threads"),
    ("forecast-threads-not-a-number", lambda w: ["forecast", w.fc, "--threads", "all"], "--threads"),
    ("classify-threads-zero", lambda w: ["classify", w.cl, w.ucr, "--threads", 0], "--threads"),
    ("inspect-threads-zero", lambda w: ["inspect", w.lm, "--text", "the", "--threads", 0], "--threads"),
    # options of another task or kind
    ("train-season-on-lm", lambda w: ["train", "--corpus", w.corpus, "--season", 12, *QUIET], "--task forecast"),
    ("train-tokenizer-on-forecast", lambda w: ["train", "--task", "forecast", "--tokenizer", "bpe", *QUIET],
     "--tokenizer"),
    ("evaluate-lm-test", lambda w: ["evaluate", w.lm, "--test", w.ucr], "--test"),
    ("evaluate-fc-pairs", lambda w: ["evaluate", w.fc, "--pairs", w.file("p.tsv", "a\tb\n")], "--pairs"),
    ("evaluate-cl-split", lambda w: ["evaluate", w.cl, "--split", "val"], "--split"),
    ("evaluate-tr-backtest", lambda w: ["evaluate", w.tr, "--backtest"], "--backtest"),
    ("sample-text-format-musicxml", lambda w: ["sample", w.lm, "--format", "musicxml"], "--format"),
    ("sample-text-prime-midi", lambda w: ["sample", w.lm, "--prime-midi", _midi(w.dir / "x.mid", 0)], "--prime-midi"),
    ("sample-text-plot", lambda w: ["sample", w.lm, "--plot"], "--plot"),
    ("sample-text-bars", lambda w: ["sample", w.lm, "--bars", 2], "--bars"),
    ("sample-music-without-output", lambda w: ["sample", w.music, "--seed", 1], "--output"),
    ("sample-music-format-abc", lambda w: ["sample", w.music, "--format", "abc", "--output", w.dir / "o.abc",
                                           "--seed", 1], "abc"),
    ("sample-translate-checkpoint", lambda w: ["sample", w.tr], "translate checkpoint"),
    ("sample-forecast-checkpoint", lambda w: ["sample", w.fc], "forecast checkpoint"),
    ("translate-lm-checkpoint", lambda w: ["translate", w.lm, "hello"], "language-model checkpoint"),
    ("forecast-classify-checkpoint", lambda w: ["forecast", w.cl], "classify checkpoint"),
    ("classify-forecast-checkpoint", lambda w: ["classify", w.fc, w.ucr], "forecast checkpoint"),
    ("sample-prime-and-prime-file", lambda w: ["sample", w.lm, "--prime", "the", "--prime-file", w.corpus],
     "not both"),
    # names and resumes
    ("train-name-escapes", lambda w: ["train", "--corpus", w.corpus, *LM, "--output-dir", w.dir / "out", "--name",
                                      "../escaped"], "plain folder name"),
    ("train-name-with-slash", lambda w: ["train", "--corpus", w.corpus, *LM, "--output-dir", w.dir / "out", "--name",
                                         "a/b"], "plain folder name"),
    ("train-name-hidden", lambda w: ["train", "--corpus", w.corpus, *LM, "--output-dir", w.dir / "out", "--name",
                                     ".hidden"], "plain folder name"),
    ("train-name-absolute", lambda w: ["train", "--corpus", w.corpus, *LM, "--output-dir", w.dir / "out", "--name",
                                       w.dir / "abs"], "plain folder name"),
    ("resume-changed-hidden-size", lambda w: ["train", "--resume", w.lm, "--hidden-size", 64], "--hidden-size"),
    ("resume-changed-corpus", lambda w: ["train", "--resume", w.lm, "--corpus", w.corpus], "--corpus"),
    ("resume-forecast-changed-lr", lambda w: ["train", "--task", "forecast", "--resume", w.fc, "--lr", 0.1], "--lr"),
    ("resume-classify-changed-epochs", lambda w: ["train", "--task", "classify", "--resume", w.cl, "--epochs", 9],
     "--epochs"),
    ("resume-forecast-as-lm", lambda w: ["train", "--resume", w.fc], "forecast checkpoint"),
    ("resume-lm-as-translate", lambda w: ["train", "--task", "translate", "--resume", w.lm], "language-model checkpoint"),
    ("resume-lm-as-classify", lambda w: ["train", "--task", "classify", "--resume", w.lm], "language-model checkpoint"),
    ("resume-missing", lambda w: ["train", "--resume", w.dir / "none"], "does not exist"),
    # translate's texts
    ("translate-empty-text", lambda w: ["translate", w.tr, ""], "empty"),
    ("translate-blank-text", lambda w: ["translate", w.tr, "   "], "empty"),
    ("translate-nul-text", lambda w: ["translate", w.tr, "a\x00b"], "NUL"),
    ("translate-binary-stdin", lambda w: (["translate", w.tr, "-"], b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50), "stdin"),
    ("translate-nul-stdin", lambda w: (["translate", w.tr, "-"], b"ab\x00cd\n3 May 1979\n"), "NUL"),
    ("translate-non-utf8-stdin", lambda w: (["translate", w.tr, "-"], b"caf\xe9\n"), "UTF-8"),
    ("translate-plot-two-texts", lambda w: ["translate", w.tr, "a", "b", "--plot-attention", w.dir / "a.png"], "exactly one"),
    # layouts
    ("classify-airline-csv", lambda w: ["classify", w.cl, AIRLINE], "laid out"),
    ("evaluate-cl-airline-csv", lambda w: ["evaluate", w.cl, "--test", AIRLINE], "laid out"),
    ("classify-too-long", lambda w: ["classify", w.cl, w.file("u.txt", "1 " + " ".join(["0.5"] * 500) + "\n")], "long"),
]

CONFIG_ROWS = [
    ("config-list-value", lambda w: ["train", "--config", w.file("c.toml", "max_steps = [1, 2]\n"),
                                     "--corpus", w.corpus, *QUIET], "max_steps"),
    ("config-string-for-int", lambda w: ["train", "--config", w.file("c.toml", "[train]\nbptt = \"8\"\n"),
                                         "--corpus", w.corpus, *LM[:2], *QUIET], "bptt"),
    ("config-nan", lambda w: ["train", "--config", w.file("c.toml", "[train]\nlr = nan\n"), "--corpus", w.corpus,
                              *LM[:2], *QUIET], "--lr"),
    ("config-not-utf8", lambda w: ["train", "--config", w.file("c.toml", "corpus = \"caf\xe9\"\n".encode("latin-1")),
                                   *LM[:2], *QUIET], "UTF-8"),
    ("config-binary", lambda w: ["train", "--config", w.file("c.toml", b"\x00\x01\x02\xff"), *LM[:2], *QUIET], "c.toml"),
    ("config-invalid-toml", lambda w: ["train", "--config", w.file("c.toml", "[model\nhidden_size = \n"), *LM[:2], *QUIET],
     "not valid TOML"),
    ("config-unknown-key", lambda w: ["train", "--config", w.file("c.toml", "[train]\nhiden_size = 3\n"), *LM[:2], *QUIET],
     "hiden_size"),
    ("config-other-task-key", lambda w: ["train", "--config", w.file("c.toml", "season = 12\n"), "--corpus", w.corpus,
                                         *LM[:2], *QUIET], "season"),
    ("config-unknown-task", lambda w: ["train", "--config", w.file("c.toml", "task = \"poetry\"\n"), *LM[:2], *QUIET], "task"),
    # the exploratory tester's configuration files (issue 10), each one row
] + [
    (f"config-{name}", (lambda t: lambda w: ["train", "--config", w.file("c.toml", t), "--corpus", w.corpus, *LM[:2],
                                             *QUIET])(text), expected)
    for name, text, expected in [
        ("bool-for-int", "[train]\nmax_steps = true\n", "max_steps"),
        ("float-for-int", "[train]\nmax_steps = 2.5\n", "max_steps"),
        ("list-for-text", "[train]\nname = [\"a\", \"b\"]\n", "name"),
        ("table-for-int", "[model]\nhidden_size = {a = 1}\n", "hidden_size"),
        ("date-for-int", "[train]\nseed = 1979-05-27\n", "seed"),
        ("int-for-text", "[train]\noutput_dir = 5\n", "output_dir"),
        ("string-for-bool", "[model]\nlocked_dropout = \"yes\"\n", "locked_dropout"),
        ("key-twice", "[train]\nmax_steps = 3\nmax-steps = 4\n", "twice"),
        ("section-twice", "[train]\nlr = 1\n[train]\nseed = 2\n", "twice"),
        ("nested-table", "[train.sub]\nx = 1\n", "sub"),
        ("unknown-section", "[bogus]\nseed = 1\n", "bogus"),
        ("names-itself", "config = \"x.toml\"\n", "config"),
        ("int-resume", "resume = 5\n", "resume"),
        ("seed-too-big", "seed = 99999999999999999999\n", "--seed"),
        ("epochs-overflow", "epochs = 1e400\n", "--epochs"),
        ("dropout-5", "[model]\ndropout = 5.0\n", "--dropout"),
        ("bad-choice", "tokenizer = \"xyz\"\n", "--tokenizer"),
        ("hidden-size-zero", "[model]\nhidden_size = 0\n", "--hidden-size"),
    ]
] + [
    ("config-missing", lambda w: ["train", "--config", w.dir / "none.toml", *LM[:2], *QUIET], "none.toml"),
    ("config-is-a-folder", lambda w: ["train", "--config", w.folder("conf"), *LM[:2], *QUIET], "conf"),
]

OUTPUT_ROWS = [
    ("train-output-dir-is-a-file", lambda w: ["train", "--corpus", w.corpus, *LM, "--output-dir", w.file("f"),
                                              "--name", "r"], "is a file"),
    ("train-output-dir-under-a-file", lambda w: ["train", "--corpus", w.corpus, *LM, "--output-dir",
                                                 w.file("f") / "sub", "--name", "r"], "f"),
    ("train-output-dir-proc", lambda w: ["train", "--corpus", w.corpus, *LM, "--output-dir", "/proc/seqgen-x",
                                         "--name", "r"], "/proc/seqgen-x"),
    ("train-forecast-output-dir-proc", lambda w: ["train", "--task", "forecast", "--epochs", 1, "--ensemble", 1,
                                                  "--output-dir", "/proc/seqgen-x", *QUIET], "/proc/seqgen-x"),
    ("train-classify-output-dir-is-a-file", lambda w: ["train", "--task", "classify", "--corpus", w.ucr, "--epochs", 1,
                                                       "--ensemble", 1, "--output-dir", w.file("f"), *QUIET],
     "is a file"),
    ("train-translate-output-dir-proc", lambda w: ["train", "--task", "translate", "--train-pairs", 200, "--max-steps", 1,
                                                   "--output-dir", "/proc/seqgen-x", *QUIET], "/proc/seqgen-x"),
    ("train-music-skipped-output-dir-proc", lambda w: ["train", "--corpus", w.folder("midi", a_mid=_midi(w.dir / "a.mid", 0).read_bytes(),
                                                                                         b_mid=b"MThd\x00junk"),
                                                       *LM, "--output-dir", "/proc/seqgen-x"], "/proc/seqgen-x"),
    ("train-pairs-skipped-output-dir-proc", lambda w: ["train", "--task", "translate", "--corpus",
                                                       w.file("p.tsv", "cat\tgato\ndog\tc\u00e3o\nno tab\n" * 5),
                                                       "--max-steps", 1, "--output-dir", "/proc/seqgen-x", *QUIET],
     "/proc/seqgen-x"),
    ("sample-output-proc", lambda w: ["sample", w.lm, "--length", 5, "--output", "/proc/x/y.txt"], "/proc/x"),
    ("sample-output-proc-two", lambda w: ["sample", w.lm, "--length", 5, "--num-samples", 2, "--output", "/proc/x/y.txt"],
     "/proc/x"),
    ("sample-output-under-a-file", lambda w: ["sample", w.lm, "--length", 5, "--seed", 1, "--output",
                                              w.file("f") / "y.txt"], "f"),
    ("sample-output-is-a-folder", lambda w: ["sample", w.lm, "--length", 5, "--seed", 1, "--output", w.dir], "folder"),
    ("sample-music-output-proc-plot", lambda w: ["sample", w.music, "--length", 5, "--seed", 1, "--plot",
                                                 "--output", "/proc/x/y.mid"], "/proc/x"),
    ("sample-music-output-proc-two-plot", lambda w: ["sample", w.music, "--length", 5, "--seed", 1, "--plot",
                                                     "--num-samples", 2, "--output", "/proc/x/y.mid"], "/proc/x"),
    ("forecast-plot-proc", lambda w: ["forecast", w.fc, "--plot", "/proc/x.png"], "/proc/x.png"),
    ("forecast-plot-not-an-image", lambda w: ["forecast", w.fc, "--plot", w.dir / "x.txt"], ".png"),
    ("forecast-csv-under-a-file", lambda w: ["forecast", w.fc, "--csv", w.file("f") / "x.csv"], "f"),
    ("forecast-csv-ok-plot-proc", lambda w: ["forecast", w.fc, "--csv", w.dir / "x.csv", "--plot", "/proc/x.png"],
     "/proc/x.png"),
    ("classify-output-under-a-file", lambda w: ["classify", w.cl, w.ucr, "--output", w.file("f") / "p.csv"], "f"),
    ("classify-output-proc", lambda w: ["classify", w.cl, w.ucr, "--output", "/proc/x/p.csv"], "/proc/x"),
    ("translate-plot-attention-proc", lambda w: ["translate", w.tr, "3 May 1979", "--plot-attention", "/proc/x/a.png"],
     "/proc/x"),
]

INSPECT_ROWS = [
    ("inspect-empty-text-file", lambda w: ["inspect", w.lm, "--text-file", w.file("empty.txt"), "--save",
                                           w.dir / "g.npz"], "is empty"),
    ("inspect-binary-text-file", lambda w: ["inspect", w.lm, "--text-file", w.file("late.txt", BINARY_LATE_NUL)],
     "binary"),
    ("inspect-unseen-character", lambda w: ["inspect", w.lm, "--text", "caf\u00e9 \u2603", "--html", w.dir / "p.html"],
     "never saw"),
    ("inspect-music-unknown-event", lambda w: ["inspect", w.music, "--text", "piece pitch_999"], "unknown: pitch_999"),
    ("inspect-music-corrupt-primer", lambda w: ["inspect", w.music, "--prime-midi", w.file("bad.mid", b"MThd\x00garbage")],
     "bad.mid"),
    ("inspect-forecast-text", lambda w: ["inspect", w.fc, "--text", "abc"], "--text does not apply"),
    ("inspect-translate-no-text", lambda w: ["inspect", w.tr], "--text"),
    ("inspect-classify-words", lambda w: ["inspect", w.cl, "--text", "one two"], "numbers"),
    ("inspect-damaged", lambda w: ["inspect", w.damaged(w.lm, "truncated"), "--text", "ab"], "not a readable"),
    ("inspect-html-proc", lambda w: ["inspect", w.lm, "--text", "the fox", "--html", "/proc/x/p.html"], "/proc/x"),
    ("inspect-save-proc", lambda w: ["inspect", w.fc, "--save", "/proc/x/g.npz"], "/proc/x"),
    ("inspect-png-under-a-file", lambda w: ["inspect", w.lm, "--text", "the fox", "--png", w.file("f") / "p.png"], "f"),
]

ROWS = FILE_ROWS + OPTION_ROWS + CHECKPOINT_ROWS + CONFIG_ROWS + OUTPUT_ROWS + INSPECT_ROWS


@pytest.mark.parametrize("build, expected", [pytest.param(b, e, id=i) for i, b, e in ROWS])
def test_bad_input_is_one_line_and_changes_nothing(world, build, expected):
    built = build(world)
    args, stdin = built if isinstance(built, tuple) else (built, None)
    before = snapshot(world.root)
    result = run(*args, input=stdin)
    after = snapshot(world.root)
    line = one_line_error(result)
    assert expected in line, line
    assert_unchanged(before, after)
    assert not (world.dir / "ran").exists()  # a planted pickle never runs


# -- the Python API gives the same line --------------------------------------------------------------------------

API_ROWS = [
    ("train-empty", lambda w: (lambda p: lambda: seqgen.train(corpus=p, max_steps=1))(str(w.file("empty.txt"))),
     "is empty"),
    ("train-utf16", lambda w: (lambda p: lambda: seqgen.train(corpus=p, max_steps=1))(str(w.file("wide.txt", UTF16))),
     "--encoding utf-16"),
    ("train-lr-inf", lambda w: lambda: seqgen.train(corpus=str(w.corpus), lr=float("inf")), "--lr must be a finite"),
    ("train-lr-string", lambda w: lambda: seqgen.train(corpus=str(w.corpus), lr="fast"), "--lr must be a number"),
    ("train-dropout-2", lambda w: lambda: seqgen.train(corpus=str(w.corpus), dropout=2.0), "--dropout must be <= 0.9"),
    ("train-bptt-zero", lambda w: lambda: seqgen.train(corpus=str(w.corpus), bptt=0), "--bptt must be >= 1"),
    ("train-max-steps-list", lambda w: lambda: seqgen.train(corpus=str(w.corpus), max_steps=[1, 2]),
     "--max-steps must be a whole number"),
    ("train-season-on-lm", lambda w: lambda: seqgen.train(corpus=str(w.corpus), season=12), "--task forecast"),
    ("train-unknown-task", lambda w: lambda: seqgen.train("poetry"), "unknown task"),
    ("train-name-escapes", lambda w: lambda: seqgen.train(corpus=str(w.corpus), max_steps=1, output_dir=str(w.dir / "o"),
                                                          name="../escaped", progress=False), "plain folder name"),
    ("train-output-dir-proc", lambda w: lambda: seqgen.train(corpus=str(w.corpus), max_steps=1,
                                                             output_dir="/proc/seqgen-x", progress=False),
     "/proc/seqgen-x"),
    ("resume-changed-hidden-size", lambda w: lambda: seqgen.train(resume=str(w.lm), hidden_size=64),
     "--hidden-size cannot change"),
    ("resume-other-task", lambda w: lambda: seqgen.train(resume=str(w.fc)), "forecast checkpoint"),
    ("resume-unknown-option", lambda w: lambda: seqgen.train(resume=str(w.lm), sesaon=3), "--sesaon"),
    ("forecast-horizon-100000", lambda w: lambda: seqgen.load(w.fc).forecast(horizon=100000), "at most 144 steps"),
    ("generate-temperature-nan", lambda w: lambda: seqgen.load(w.lm).generate(temperature=float("nan")),
     "--temperature must be a finite"),
    ("generate-text-plot", lambda w: lambda: seqgen.load(w.lm).generate(plot=True), "--plot is for music"),
    ("translate-negative-beam", lambda w: lambda: seqgen.load(w.tr).translate("x", beam_size=0), "beam_size"),
    ("classify-airline", lambda w: lambda: seqgen.load(w.cl).classify(str(AIRLINE)), "laid out"),
    ("load-missing", lambda w: lambda: seqgen.load(w.dir / "none.pt"), "does not exist"),
    ("inspect-empty", lambda w: lambda: seqgen.load(w.lm).inspect(""), "is empty"),
    ("inspect-top-k-zero", lambda w: lambda: seqgen.load(w.lm).inspect("the fox", top_k=0), "top_k"),
    ("inspect-forecast-member", lambda w: lambda: seqgen.load(w.fc).inspect(member=5), "--member"),
    ("inspect-classify-nan", lambda w: lambda: seqgen.load(w.cl).inspect([1.0, float("nan")]), "finite"),
    ("train-threads-zero", lambda w: lambda: seqgen.train(corpus=str(w.corpus), threads=0), "--threads must be >= 1"),
    ("load-threads-text", lambda w: lambda: seqgen.load(w.lm, threads="all"), "--threads must be a whole number"),
    ("generate-threads-zero", lambda w: lambda: seqgen.load(w.lm).generate(threads=0), "--threads must be >= 1"),
] + [
    (f"load-{task}-{damage}", (lambda t, d: lambda w: (lambda p: lambda: seqgen.load(p))(w.damaged(getattr(w, t), d)))(
        task, damage), DAMAGE_EXPECTED[damage])
    for task in ("lm", "tr", "fc", "cl") for damage in DAMAGES
]


@pytest.mark.parametrize("build, expected", [pytest.param(b, e, id=i) for i, b, e in API_ROWS])
def test_the_python_api_raises_the_same_one_line(world, build, expected):
    call = build(world)
    before = snapshot(world.root)
    with pytest.raises(SeqgenError) as caught:
        call()
    after = snapshot(world.root)
    message = str(caught.value)
    assert "\n" not in message and expected in message, message
    assert_unchanged(before, after)
    assert not (world.dir / "ran").exists()


def test_the_api_and_the_command_line_say_the_same(world):
    damaged = world.damaged(world.lm, "short-vocabulary")
    with pytest.raises(SeqgenError) as caught:
        seqgen.load(damaged)
    assert one_line_error(run("sample", damaged)) == f"Error: {caught.value}"


# -- faults: a second writer, a full disk, stale temporaries --------------------------------------------------------

def test_a_second_run_into_a_folder_a_live_run_holds_is_one_line(world):
    corpus = world.corpus
    out = world.dir / "runs"
    command = [sys.executable, "-m", "seqgen", "train", "--corpus", str(corpus), *map(str, LM), "--max-steps", "1000000",
               "--eval-interval", "5", "--output-dir", str(out), "--name", "busy"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (out / "busy" / "latest.pt").exists():  # the loop runs: Ctrl-C now saves and stops
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never started"
            time.sleep(0.05)
        line = one_line_error(run("train", "--corpus", corpus, *LM, "--output-dir", out, "--name", "busy"))
        assert "another seqgen run is writing" in line
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 130, err.decode()
    assert load_checkpoint(out / "busy" / "latest.pt", task="language-model")["step"] >= 1


def test_a_full_disk_while_a_checkpoint_is_written_is_one_line_and_keeps_the_last_good_one(world, monkeypatch):
    import seqgen.checkpoint

    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] > 2:  # latest.pt and best.pt of step 2 are written; latest.pt of step 4 is not
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(seqgen.checkpoint.os, "fsync", fsync)
    with pytest.raises(SeqgenError) as caught:
        seqgen.train(corpus=str(world.corpus), max_steps=6, eval_interval=2, hidden_size=16, embedding_dim=8, num_layers=1,
                     batch_size=2, bptt=8, eval_batch_size=2, device="cpu", output_dir=str(world.dir / "runs"),
                     name="full", progress=False)
    message = str(caught.value)
    folder = world.dir / "runs" / "full"
    assert "\n" not in message
    assert "could not write checkpoint" in message and "No space left on device" in message
    assert "latest.pt" in message and "the last good latest.pt is intact" in message
    assert load_checkpoint(folder / "latest.pt", task="language-model")["step"] == 2
    seqgen.load(folder / "best.pt")
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp") or ".tmp." in p.name]


def test_a_full_disk_on_the_command_line_is_one_line(world, monkeypatch):
    import seqgen.checkpoint

    def save(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(seqgen.checkpoint.torch, "save", save)
    line = one_line_error(run("train", "--corpus", world.corpus, *LM, "--output-dir", world.dir / "runs", "--name", "full"))
    assert "could not write checkpoint" in line and "No space left on device" in line
    assert not list((world.dir / "runs" / "full").glob("*.pt*"))


def test_stale_temporaries_are_removed_on_resume(world):
    folder = world.dir / "copy"
    shutil.copytree(world.lm, folder)
    (folder / ".lock").unlink(missing_ok=True)
    stale = [folder / ".latest.pt.xyz.tmp", folder / ".best.pt.abc123.tmp", folder / "run.json.tmp"]
    for path in stale:
        path.write_bytes(b"\x00" * 1000)
    result = run("train", "--resume", folder, "--max-steps", 4, "--sample-length", 0, "--quiet")
    assert result.exit_code == 0, result.output
    assert not any(path.exists() for path in stale)
    assert load_checkpoint(folder / "latest.pt")["step"] == 4


def test_a_pickle_with_code_never_runs_anywhere(world):
    planted = world.damaged(world.lm, "pickle-with-code")
    for args in (["sample", planted], ["evaluate", planted], ["train", "--resume", planted],
                 ["translate", planted, "x"], ["forecast", planted], ["classify", planted, world.ucr]):
        one_line_error(run(*args))
    with pytest.raises(SeqgenError):
        seqgen.load(planted)
    with pytest.raises(SeqgenError):
        load_checkpoint(planted)
    assert not (world.dir / "ran").exists()
    # the planted object is one that does run when unpickled without weights_only
    pickle.loads(pickle.dumps(Planted(world.dir / "ran")))
    assert (world.dir / "ran").exists()
