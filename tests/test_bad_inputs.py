"""The permanent guard of issue 10: a table of bad inputs per command. Every row asserts the promise for bad
input: one line starting "Error: ", a non-zero exit, no traceback, and no file changed (the run folders, the
input files and the working folder are compared byte for byte before and after).

A new case is one row: `(id, build, expected)`, where `build(w)` makes the inputs it needs under `w.dir` and
returns the command line (a list of arguments, or `(arguments, stdin)`), and `expected` is a substring of the
one line. Rows of the Python API return a function to call instead, which must raise SeqgenError.
"""

import errno
import hashlib
import json
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


def _long_note(path, beats=20_000):
    """A 37-byte MIDI file: one note held for `beats` quarter notes."""
    song = mido.MidiFile(ticks_per_beat=1)
    song.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=80, time=0),
                                       mido.Message("note_off", note=60, velocity=0, time=beats)]))
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


def _logs(units=4, steps=12, columns=4, seed=0, start=1):
    """Run-to-failure logs without a header: unit, cycle and `columns` measurements that drift as the unit wears."""
    rng = np.random.default_rng(seed)
    rows = []
    for unit in range(start, start + units):
        for cycle in range(1, steps + 1):
            values = [cycle / steps * (j + 1) + 0.1 * rng.standard_normal() for j in range(columns)]
            rows.append(" ".join([str(unit), str(cycle)] + [f"{v:.4f}" for v in values]))
    return "\n".join(rows) + "\n"


RL = ["--window", 5, "--epochs", 2, "--ensemble", 1, "--hidden-size", 8, *QUIET]


@pytest.fixture(scope="module")
def rl_data(root):
    (root / "inputs").mkdir(exist_ok=True)
    train, test = root / "inputs" / "rl-train.txt", root / "inputs" / "rl-test.txt"
    train.write_text(_logs())
    test.write_text(_logs(units=3, steps=8, seed=1))
    (root / "inputs" / "rl-truth.txt").write_text("4\n5\n6\n")
    return train, test, root / "inputs" / "rl-truth.txt"


@pytest.fixture(scope="module")
def rl_run(root, rl_data):
    return _train(root, "remaining-life", "--task", "remaining-life", "--corpus", rl_data[0], *RL)


class World:
    """What a row builds from: the trained runs (built on first use), files it writes under `dir`."""

    RUNS = {"lm": "lm_run", "music": "music_run", "tr": "translate_run", "fc": "forecast_run", "cl": "classify_run",
            "rl": "rl_run"}

    def __init__(self, request, root, folder):
        self._request, self.root, self.dir = request, root, folder

    def __getattr__(self, name):
        if name in self.RUNS:
            return self._request.getfixturevalue(self.RUNS[name])
        if name == "corpus":
            return self._request.getfixturevalue("text_corpus")
        if name == "ucr":
            return self._request.getfixturevalue("classify_data")[0]
        if name in ("logs", "test_logs", "truth"):
            return self._request.getfixturevalue("rl_data")[("logs", "test_logs", "truth").index(name)]
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
            payload["model_config"]["num_tokens"] += 3
            return
    if "classes" in payload:
        payload["classes"] = payload["classes"][:1]
    elif "features" in payload:  # remaining life: fewer column names than the network reads
        payload["features"] = payload["features"][:-1]
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
    "rl": lambda w, ckpt: ["predict", ckpt, w.test_logs],
}

CHECKPOINT_ROWS = [
    (f"{task}-{damage}", (lambda t, d: lambda w: USES[t](w, w.damaged(getattr(w, t), d)))(task, damage),
     DAMAGE_EXPECTED[damage])
    for task in ("lm", "tr", "fc", "cl", "rl") for damage in DAMAGES
] + [
    (f"music-{damage}", (lambda d: lambda w: USES["music"](w, w.damaged(w.music, d)))(damage), DAMAGE_EXPECTED[damage])
    for damage in ("short-vocabulary", "model-config-list", "model-state-missing")
] + [
    (f"evaluate-{task}-{damage}", (lambda t, d: lambda w: ["evaluate", w.damaged(getattr(w, t), d)])(task, damage),
     DAMAGE_EXPECTED[damage])
    for task, damage in (("lm", "short-vocabulary"), ("tr", "short-vocabulary"), ("fc", "model-config-list"),
                         ("cl", "short-vocabulary"), ("rl", "short-vocabulary"), ("lm", "pickle-with-code"))
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

BIG_ROWS = "2 " + " ".join(["0.5"] * 20) + "\n1 " + " ".join(["3e38", "-3e38"] * 10) + "\n"
UNLABELLED_ROWS = "".join(" ".join(f"{0.1 * i - j / 20:.2f}" for i in range(20)) + "\n" for j in range(3))
PANDAS_NAMES_ROWS = ",".join(str(i) for i in range(20)) + "\n" + ",".join(["3"] * 20) + "\n"
TS_UNEVEN = "@univariate false\n@classLabel true a b\n@data\n1,2:3,4:5,6:a\n1,2:3,4:b\n"


def _stream(swap=None, duplicate=None, gap=None, text=None, cell="abc", stamp=None) -> str:
    """Forty five-minute readings, one of them out of order, repeated, missing, text or badly dated."""
    minutes = [5 * i for i in range(40)]
    if swap is not None:
        minutes[swap], minutes[swap + 1] = minutes[swap + 1], minutes[swap]
    if duplicate is not None:
        minutes[duplicate + 1] = minutes[duplicate]
    if gap is not None:
        minutes = minutes[:gap] + [m + 60 for m in minutes[gap:]]
    rows = [f"2024-01-01 {m // 60:02d}:{m % 60:02d}:00,{cell if i == text else 10 + i % 3}" for i, m in
            enumerate(minutes)]
    if stamp is not None:
        rows[stamp] = "someday," + rows[stamp].split(",")[1]
    return "timestamp,value\n" + "\n".join(rows) + "\n"


def _series(big: str, covariate: bool = False) -> str:
    """Four years of monthly sales (and temperatures), one cell of them `big`."""
    rows = [f"{2000 + i // 12}-{i % 12 + 1:02d},{big if covariate and i == 10 else 1.5},"
            f"{big if not covariate and i == 10 else 100 + i}\n" for i in range(48)]
    return "month,temp,sales\n" + "".join(rows)


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
    # a named data set given to a task that does not read it, refused before anything is downloaded
    ("train-lm-named-classification-set", lambda w: ["train", "--corpus", "ecg200", *LM], "use it with --task classify"),
    ("train-classify-named-anomaly-set", lambda w: ["train", "--task", "classify", "--corpus", "nab", *QUIET],
     "no task reads yet"),
    ("train-classify-named-equipment-set", lambda w: ["train", "--task", "classify", "--corpus", "cmapss-fd001", *QUIET],
     "use it with --task remaining-life"),
    ("train-classify-test-named-series", lambda w: ["train", "--task", "classify", "--corpus", w.ucr, "--test", "uschange",
                                                    *QUIET], "use it with --task forecast"),
    ("train-forecast-named-pairs", lambda w: ["train", "--task", "forecast", "--corpus", "tatoeba-en-pt", *QUIET],
     "use it with --task translate"),
    ("train-translate-named-set-encoding", lambda w: ["train", "--task", "translate", "--corpus", "tatoeba-en-pt",
                                                      "--encoding", "latin-1", *QUIET], "--encoding does not apply"),
    ("train-lm-named-series-encoding", lambda w: ["train", "--corpus", "uschange", "--encoding", "latin-1", *LM],
     "use it with --task forecast"),
    ("train-translate-named-text-encoding", lambda w: ["train", "--task", "translate", "--corpus", "lady-susan",
                                                       "--encoding", "latin-1", *QUIET], "use it with --task language-model"),
    ("train-builtin-text-encoding", lambda w: ["train", "--corpus", "lady-susan", "--encoding", "latin-1", *LM],
     "--encoding does not apply"),
    ("evaluate-cl-test-named-pairs", lambda w: ["evaluate", w.cl, "--test", "tatoeba-en-pt"], "use it with --task translate"),
    ("evaluate-tr-pairs-named-series", lambda w: ["evaluate", w.tr, "--pairs", "uschange"], "use it with --task forecast"),
    ("evaluate-tr-pairs-named-set-encoding", lambda w: ["evaluate", w.tr, "--pairs", "tatoeba-en-pt", "--encoding",
                                                        "latin-1"], "--encoding does not apply"),
    ("corpora-fetch-unknown", lambda w: ["corpora", "--fetch", "nothing"], "no data set named 'nothing'"),
    ("sample-prime-file-binary", lambda w: ["sample", w.lm, "--prime-file", w.file("p.txt", b"ab\x00cd")], "binary"),
    ("sample-prime-file-utf16", lambda w: ["sample", w.lm, "--prime-file", w.file("p.txt", "the".encode("utf-16"))],
     "--encoding utf-16"),
    ("sample-prime-file-missing", lambda w: ["sample", w.lm, "--prime-file", w.dir / "none.txt"], "none.txt"),
    ("sample-prime-unknown-char", lambda w: ["sample", w.lm, "--prime", "\u2603"], "cannot be encoded"),
    ("sample-prime-midi-corrupt", lambda w: ["sample", w.music, "--prime-midi", w.file("bad.mid", b"MThd\x00junk"),
                                             "--output", w.dir / "o.mid", "--seed", 1], "bad.mid"),
    ("sample-prime-midi-missing", lambda w: ["sample", w.music, "--prime-midi", w.dir / "none.mid",
                                             "--output", w.dir / "o.mid", "--seed", 1], "none.mid"),
    ("sample-prime-midi-20000-beat-note", lambda w: ["sample", w.music, "--prime-midi", _long_note(w.dir / "long.mid"),
                                                     "--output", w.dir / "o.mid", "--seed", 1],
     "long.mid: lasts 20,000 quarter notes, more than the 10,000"),
    ("inspect-prime-midi-20000-beat-note", lambda w: ["inspect", w.music, "--prime-midi", _long_note(w.dir / "long.mid")],
     "lasts 20,000 quarter notes"),
    ("train-music-only-20000-beat-note", lambda w: ["train", "--corpus", w.folder("long", a_mid=_long_note(
        w.dir / "long.mid").read_bytes()), *LM], "lasts 20,000 quarter notes"),
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
    # values the networks' 32-bit floats cannot hold once scaled: one line naming the row, never p = nan
    ("classify-beyond-float32-after-scaling", lambda w: ["classify", w.cl, w.file("u.txt", BIG_ROWS)],
     "u.txt row 2 (line 2) holds 3e+38"),
    ("evaluate-cl-test-beyond-float32", lambda w: ["evaluate", w.cl, "--test", w.file("u.txt", BIG_ROWS)],
     "u.txt row 2 (line 2) holds 3e+38"),
    ("train-classify-test-beyond-float32", lambda w: ["train", "--task", "classify", "--corpus", w.ucr, "--test",
                                                      w.file("u.txt", BIG_ROWS), "--epochs", 1, "--ensemble", 1,
                                                      *QUIET], "u.txt row 2 (line 2) holds 3e+38"),
    ("train-series-beyond-float32", lambda w: ["train", "--task", "forecast", "--corpus", w.file("s.csv", _series("1e300")),
                                               "--no-log-transform", "--epochs", 1, *QUIET],
     "column 'sales' holds 1e300, beyond the range of 32-bit floats"),
    ("train-covariate-beyond-float32", lambda w: ["train", "--task", "forecast", "--corpus",
                                                  w.file("s.csv", _series("1.7e308", covariate=True)), "--covariates",
                                                  "temp", "--epochs", 1, *QUIET], "column 'temp' holds 1.7e308"),
    # files read as they are meant: an unlabelled file is told of --no-labels, a header that may be values is asked
    ("classify-unlabelled-without-no-labels", lambda w: ["classify", w.cl, w.file("u.txt", UNLABELLED_ROWS)],
     "u.txt holds no labels, pass --no-labels"),
    ("classify-pandas-names-over-whole-numbers", lambda w: ["classify", w.cl, w.file("u.csv", PANDAS_NAMES_ROWS),
                                                            "--no-labels"], "the names pandas gives unnamed columns"),
    ("train-series-pandas-name-or-value", lambda w: ["train", "--task", "forecast", "--corpus",
                                                     w.file("s.csv", "0\n" + "".join(f"{100 + i}\n" for i in range(48))),
                                                     "--epochs", 1, *QUIET], "say so with --column 0"),
    ("train-classify-batch-size-one", lambda w: ["train", "--task", "classify", "--corpus", w.ucr, "--batch-size", 1,
                                                 *QUIET], "--batch-size must be >= 2"),
    ("train-ts-channels-disagree", lambda w: ["train", "--task", "classify", "--corpus", w.file("m.ts", TS_UNEVEN),
                                              *QUIET], "line 5 has 2 channel(s) before the label, line 4, the first "
                                                       "case, has 3"),
] + [  # a mistyped data-set name is read as a path that is not there: the line names the data set meant
    (f"train-{task}-mistyped-{typo}", lambda w, task=task, typo=typo: ["train", "--task", task, "--corpus", typo, *QUIET],
     f"did you mean {meant!r}?")
    for task, typo, meant in [("language-model", "tinyshakspeare", "tinyshakespeare"), ("language-model", "Lady-Susan", "lady-susan"),
                              ("forecast", "airlines", "airline"), ("forecast", "uschang", "uschange"),
                              ("classify", "ecg20", "ecg200"), ("translate", "tatoeba-en-p", "tatoeba-en-pt"),
                              ("remaining-life", "cmaps-fd001", "cmapss-fd001")]
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
    ("sample-music-length-huge", lambda w: ["sample", w.music, "--length", 10_000_000, "--output", w.dir / "o.mid"],
     "--length 10,000,000 is more than a music sample holds"),
    ("sample-music-bars-huge", lambda w: ["sample", w.music, "--bars", 10**9, "--output", w.dir / "o.mid"], "--bars"),
    ("sample-music-samples-times-bars", lambda w: ["sample", w.music, "--bars", 1000, "--num-samples", 100,
                                                   "--output", w.dir / "o.mid"], "seqgen draws at once"),
    ("sample-text-samples-times-length", lambda w: ["sample", w.lm, "--length", 10_000_000, "--num-samples", 3,
                                                    "--output", w.dir / "o.txt"], "30,000,000 tokens, more than"),

    ("train-lr-inf", lambda w: ["train", "--corpus", w.corpus, *LM, "--lr", "inf"], "--lr"),
    ("train-lr-nan", lambda w: ["train", "--corpus", w.corpus, *LM, "--lr", "nan"], "--lr"),
    ("train-lr-zero", lambda w: ["train", "--corpus", w.corpus, *LM, "--lr", 0], "--lr"),
    ("train-lr-negative", lambda w: ["train", "--corpus", w.corpus, *LM, "--lr", -1], "--lr"),
    ("train-dropout-2", lambda w: ["train", "--corpus", w.corpus, *LM, "--dropout", 2], "--dropout"),
    ("train-dropout-nan", lambda w: ["train", "--corpus", w.corpus, *LM, "--dropout", "nan"], "--dropout"),
    ("train-bptt-zero", lambda w: ["train", "--corpus", w.corpus, *LM, "--bptt", 0], "--bptt"),
    ("train-batch-size-zero", lambda w: ["train", "--corpus", w.corpus, *LM, "--batch-size", 0], "--batch-size"),
    ("train-max-steps-zero", lambda w: ["train", "--corpus", w.corpus, *LM, "--max-steps", 0], "--max-steps"),
    ("train-sample-length-huge", lambda w: ["train", "--corpus", w.corpus, *LM[:-5], "--sample-length", 10**12, *QUIET],
     "--sample-length"),
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
     "--vocab-size must be >= 2, not 1"),
    ("train-vocab-size-too-large", lambda w: ["train", "--corpus", w.corpus, *LM, "--tokenizer", "bpe", "--vocab-size",
                                              5000], "--vocab-size 5000 is too large for this corpus"),
    # options the corpus would not read
    ("train-music-options-on-text", lambda w: ["train", "--corpus", w.corpus, *LM, "--grid", 12, "--augment", 2],
     "--grid, --augment do not apply to"),
    ("train-text-options-on-music", lambda w: ["train", "--corpus", w.folder("tunes", a_mid=_midi(w.dir / "a.mid", 0)
                                                                               .read_bytes()), *LM, "--tokenizer", "bpe"],
     "--tokenizer does not apply to"),
    ("train-vocab-size-with-char", lambda w: ["train", "--corpus", w.corpus, *LM, "--vocab-size", 500],
     "--vocab-size does not apply to --tokenizer char"),
    ("train-translate-dates-fractions", lambda w: ["train", "--task", "translate", "--val-fraction", 0.2, *QUIET],
     "--val-fraction does not apply to the built-in dates task"),
    ("train-translate-file-train-pairs", lambda w: ["train", "--task", "translate", "--corpus",
                                                    w.file("p.tsv", "cat\tgato\n" * 20), "--train-pairs", 500, *QUIET],
     "--train-pairs does not apply to a pairs file"),
    ("train-translate-char-vocab-size", lambda w: ["train", "--task", "translate", "--vocab-size", 500, *QUIET],
     "--vocab-size does not apply to --tokenizer char"),
    ("evaluate-lm-encoding-without-text", lambda w: ["evaluate", w.lm, "--encoding", "latin-1"],
     "--encoding is the encoding of the file given with --text"),
    ("evaluate-tr-encoding-without-pairs", lambda w: ["evaluate", w.tr, "--encoding", "latin-1"],
     "--encoding is the encoding of the file given with --pairs"),
    ("sample-encoding-without-prime-file", lambda w: ["sample", w.lm, "--encoding", "latin-1"], "--prime-file"),
    ("inspect-encoding-without-text-file", lambda w: ["inspect", w.lm, "--text", "ab", "--encoding", "latin-1"],
     "--text-file"),
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
    # seqgen detect: the series is read in time order, evenly spaced, and is longer than the probation prefix
    ("detect-unsorted", lambda w: ["detect", w.file("s.csv", _stream(swap=5)), "--probation", 10], "not in time order"),
    ("detect-duplicate-timestamp", lambda w: ["detect", w.file("s.csv", _stream(duplicate=5)), "--probation", 10],
     "twice"),
    ("detect-gap", lambda w: ["detect", w.file("s.csv", _stream(gap=5)), "--probation", 10], "--allow-gaps"),
    ("detect-text-value", lambda w: ["detect", w.file("s.csv", _stream(text=7)), "--probation", 10], "not a number"),
    ("detect-missing-value", lambda w: ["detect", w.file("s.csv", _stream(text=7, cell="")), "--probation", 10],
     "missing value"),
    ("detect-bad-timestamp", lambda w: ["detect", w.file("s.csv", _stream(stamp=3)), "--probation", 10],
     "not a date"),
    ("detect-shorter-than-probation", lambda w: ["detect", w.file("s.csv", _stream()), "--probation", 100],
     "fewer than the probation prefix of 100"),
    ("detect-missing-file", lambda w: ["detect", w.dir / "none.csv"], "none.csv"),
    ("detect-labels-without-plot", lambda w: ["detect", w.file("s.csv", _stream()), "--labels", w.file("l.json", "[]")],
     "add --plot"),
    ("detect-labels-junk", lambda w: ["detect", w.file("s.csv", _stream()), "--probation", 10, "--plot",
                                      w.dir / "p.png", "--labels", w.file("l.json", "{\"a\": 1}")], "no entry"),
    ("detect-plot-suffix", lambda w: ["detect", w.file("s.csv", _stream()), "--plot", w.dir / "p.txt"], "--plot"),
    ("detect-window-with-checkpoint", lambda w: ["detect", w.fc, w.file("s.csv", _stream()), "--window", 8],
     "--window does not apply with a checkpoint"),
    ("detect-lm-checkpoint", lambda w: ["detect", w.lm, w.file("s.csv", _stream()), "--probation", 10], "forecast"),
    ("detect-probation-zero", lambda w: ["detect", w.file("s.csv", _stream()), "--probation", 0], "--probation"),
    ("train-detect", lambda w: ["train", "--task", "detect"], "learns as it reads"),
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
    ("resume-forecast-as-translate", lambda w: ["train", "--task", "translate", "--resume", w.fc],
     "is a forecast checkpoint, not a translate one; leave out --task translate"),
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
    ("train-name-300-characters", lambda w: ["train", "--corpus", w.corpus, *LM, "--output-dir", w.dir / "o",
                                             "--name", "n" * 300], "shorter --name"),
    ("train-forecast-name-300-characters", lambda w: ["train", "--task", "forecast", "--epochs", 1, "--ensemble", 1,
                                                      "--output-dir", w.dir / "o", "--name", "n" * 300, *QUIET],
     "shorter --name"),
    ("train-name-holds-a-run", lambda w: ["train", "--corpus", w.corpus, *LM, "--output-dir", w.lm.parent,
                                          "--name", w.lm.name], "already holds a run"),
    ("train-classify-name-holds-another-tasks-run", lambda w: ["train", "--task", "classify", "--corpus", w.ucr,
                                                               "--epochs", 1, "--ensemble", 1, "--output-dir",
                                                               w.fc.parent, "--name", w.fc.name, *QUIET],
     "already holds a run"),
    ("train-translate-name-holds-a-run", lambda w: ["train", "--task", "translate", "--train-pairs", 100,
                                                    "--max-steps", 1, "--output-dir", w.tr.parent, "--name", w.tr.name,
                                                    *QUIET], "already holds a run"),
    ("resume-classify-finished", lambda w: ["train", "--task", "classify", "--resume", w.cl, *QUIET], "finished"),
    ("resume-forecast-finished", lambda w: ["train", "--task", "forecast", "--resume", w.fc, *QUIET], "finished"),
    ("resume-overwrite", lambda w: ["train", "--resume", w.lm, "--overwrite", *QUIET], "--overwrite is for a new run"),
    ("train-overwrite-without-name", lambda w: ["train", "--task", "forecast", "--epochs", 1, "--ensemble", 1,
                                                "--output-dir", w.dir / "o", "--overwrite", *QUIET], "give the --name"),
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

def _rl_train(w, logs, *more):
    """`seqgen train --task remaining-life` on the logs `logs` (text written to a file, or a path)."""
    path = w.file("logs.txt", logs) if isinstance(logs, str) else logs
    return ["train", "--task", "remaining-life", "--corpus", path, *RL, *more]


RL_LOGS = _logs()


def _with_line(number, line, text=RL_LOGS):
    """`text` with its line `number` (from 1) replaced by `line`."""
    lines = text.splitlines()
    lines[number - 1] = line
    return "\n".join(lines) + "\n"

RL_CSV = "unit,cycle,a,b\n" + "".join(f"{u},{c},{c * 0.1:.2f},{c * 0.2:.2f}\n" for u in (1, 2) for c in range(1, 8))

REMAINING_LIFE_ROWS = [
    ("train-logs-unit-not-whole", lambda w: _rl_train(w, _with_line(13, "2.5 1 0.1 0.2 0.3 0.4")),
     "line 13: the unit 2.5 (column unit) is not a whole number"),
    ("train-logs-unit-text", lambda w: _rl_train(w, _with_line(13, "B 1 0.1 0.2 0.3 0.4")),
     "line 13, column unit: the value 'B' is not a finite number"),
    ("train-logs-unit-shorter-than-window", lambda w: _rl_train(w, _logs(steps=4)), "has 4 steps, fewer than the window of 5"),
    ("train-logs-units-out-of-order", lambda w: _rl_train(w, _logs(2) + _logs(1, seed=3)),
     "unit 1 appears again after other units"),
    ("train-logs-time-out-of-order", lambda w: _rl_train(w, _with_line(2, "1 0 0.1 0.2 0.3 0.4")),
     "line 2: unit 1's cycle 0 does not come after 1"),
    ("train-logs-text-value", lambda w: _rl_train(w, _with_line(3, "1 3 0.1 abc 0.3 0.4")),
     "line 3, column column_4: the value 'abc' is not a finite number"),
    ("train-logs-nan", lambda w: _rl_train(w, _with_line(5, "1 5 0.1 0.2 nan 0.4")),
     "line 5, column column_5: the value 'nan' is not a finite number"),
    ("train-logs-missing-cell", lambda w: _rl_train(w, w.file("l.csv", RL_CSV.replace("3,0.30,", "3,,"))),
     "line 4, column a: the value is missing"),
    ("train-logs-short-row", lambda w: _rl_train(w, _with_line(3, "1 3 0.1 0.2 0.3")), "line 3 has 5 values, the first "
                                                                                     "line 6"),
    ("train-logs-empty", lambda w: _rl_train(w, ""), "is empty"),
    ("train-logs-binary", lambda w: _rl_train(w, w.file("l.txt", b"1 1 0.5\x00\n")), "binary"),
    ("train-logs-missing", lambda w: _rl_train(w, w.dir / "none.txt"), "none.txt"),
    ("train-logs-no-corpus", lambda w: ["train", "--task", "remaining-life", *QUIET], "--corpus"),
    ("train-logs-unknown-unit-column", lambda w: _rl_train(w, w.file("l.csv", RL_CSV), "--unit-column", "engine"),
     "has no column 'engine' (--unit-column)"),
    ("train-logs-unknown-columns", lambda w: _rl_train(w, w.logs, "--columns", "column_3,sensor_9"),
     "--columns names 'sensor_9'"),
    ("train-logs-min-correlation-with-columns", lambda w: _rl_train(w, w.logs, "--columns", "column_3",
                                                                    "--min-correlation", 0.5), "--min-correlation"),
    ("train-logs-test-other-columns", lambda w: _rl_train(w, w.logs, "--test", w.file("t.txt", _logs(3, 8, columns=3)),
                                                          "--test-targets", w.truth), "has 5 columns, the training file 6"),
    ("train-logs-test-without-targets", lambda w: _rl_train(w, w.logs, "--test", w.test_logs),
     "--test needs --test-targets"),
    ("train-logs-targets-too-few", lambda w: _rl_train(w, w.logs, "--test", w.test_logs, "--test-targets",
                                                       w.file("t.txt", "4\n5\n")),
     "holds 2 remaining lives but the test file 3 units"),
    ("train-logs-targets-negative", lambda w: _rl_train(w, w.logs, "--test", w.test_logs, "--test-targets",
                                                        w.file("t.txt", "4\n-5\n6\n")), "line 2: '-5'"),
    ("predict-other-columns", lambda w: ["predict", w.rl, w.file("t.txt", _logs(2, 8, columns=5))],
     "has 7 columns, the training file 6"),
    ("predict-unit-shorter-than-window", lambda w: ["predict", w.rl, w.file("t.txt", _logs(2, 3))],
     "has 3 steps, fewer than the window of 5"),
    ("predict-units-out-of-order", lambda w: ["predict", w.rl, w.file("t.txt", _logs(1, 8, start=2) + _logs(2, 8))],
     "unit 2 appears again"),
    ("predict-level-too-low", lambda w: ["predict", w.rl, w.test_logs, "--level", 0.2], "--level must be >= 0.5"),
    ("evaluate-rl-targets-too-many", lambda w: ["evaluate", w.rl, "--test", w.test_logs, "--test-targets",
                                                w.file("t.txt", "1\n2\n3\n4\n")], "holds 4 remaining lives but the test file 3"),
    ("evaluate-rl-without-test", lambda w: ["evaluate", w.rl], "--test"),
    ("evaluate-rl-targets-text", lambda w: ["evaluate", w.rl, "--test", w.test_logs, "--test-targets",
                                            w.file("t.txt", "1\nmany\n3\n")], "line 2: 'many'"),
    ("inspect-rl-unknown-unit", lambda w: ["inspect", w.rl, "--history", w.test_logs, "--history-unit", 9],
     "there is no unit 9"),
    ("inspect-rl-text", lambda w: ["inspect", w.rl, "--text", "1 2"], "--text"),
    ("inspect-lm-history", lambda w: ["inspect", w.lm, "--text", "the", "--history", w.test_logs], "--history"),
    ("resume-rl-changed-window", lambda w: ["train", "--resume", w.rl, "--window", 6], "--window cannot change"),
    ("resume-rl-finished", lambda w: ["train", "--resume", w.rl, *QUIET], "finished"),
]


ROWS = FILE_ROWS + OPTION_ROWS + CHECKPOINT_ROWS + CONFIG_ROWS + OUTPUT_ROWS + INSPECT_ROWS + REMAINING_LIFE_ROWS


@pytest.mark.slow
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
    ("train-name-holds-a-run", lambda w: lambda: seqgen.train("classify", corpus=str(w.ucr), output_dir=str(w.lm.parent),
                                                              name=w.lm.name, progress=False), "already holds a run"),
    ("resume-overwrite", lambda w: lambda: seqgen.train(resume=str(w.lm), overwrite=True), "--overwrite"),
    ("resume-changed-hidden-size", lambda w: lambda: seqgen.train(resume=str(w.lm), hidden_size=64),
     "--hidden-size cannot change"),
    ("resume-other-task", lambda w: lambda: seqgen.train("classify", resume=str(w.fc)),
     "is a forecast checkpoint, not a classify one"),
    ("resume-unknown-option", lambda w: lambda: seqgen.train(resume=str(w.lm), sesaon=3), "--sesaon"),
    ("forecast-horizon-100000", lambda w: lambda: seqgen.load(w.fc).forecast(horizon=100000), "at most 144 steps"),
    ("generate-temperature-nan", lambda w: lambda: seqgen.load(w.lm).generate(temperature=float("nan")),
     "--temperature must be a finite"),
    ("generate-text-plot", lambda w: lambda: seqgen.load(w.lm).generate(plot=True), "--plot is for music"),
    ("translate-negative-beam", lambda w: lambda: seqgen.load(w.tr).translate("x", beam_size=0),
     "--beam-size must be >= 1, not 0"),
    ("classify-airline", lambda w: lambda: seqgen.load(w.cl).classify(str(AIRLINE)), "laid out"),
    ("load-missing", lambda w: lambda: seqgen.load(w.dir / "none.pt"), "does not exist"),
    ("inspect-empty", lambda w: lambda: seqgen.load(w.lm).inspect(""), "is empty"),
    ("inspect-top-k-zero", lambda w: lambda: seqgen.load(w.lm).inspect("the fox", top_k=0), "top_k"),
    ("inspect-forecast-member", lambda w: lambda: seqgen.load(w.fc).inspect(member=5), "--member"),
    ("inspect-classify-nan", lambda w: lambda: seqgen.load(w.cl).inspect([1.0, float("nan")]), "finite"),
    # wrong types and values anywhere in the API: seqgen's one line, never a raw Python error
    ("load-none", lambda w: lambda: seqgen.load(None), "a checkpoint is named by a path"),
    ("load-int", lambda w: lambda: seqgen.load(5), "a checkpoint is named by a path"),
    ("load-name-too-long", lambda w: lambda: seqgen.load("x" * 300), "File name too long"),
    ("load-device-tpu", lambda w: lambda: seqgen.load(w.lm, device="tpu"), "--device must be one of auto, cpu, cuda"),
    ("load-device-int", lambda w: lambda: seqgen.load(w.cl, device=0), "--device must be one of auto, cpu, cuda"),
    ("train-task-list", lambda w: lambda: seqgen.train(["forecast"]), "unknown task"),
    ("train-resume-int", lambda w: lambda: seqgen.train(resume=5), "--resume must be a path"),
    ("train-quiet-string", lambda w: lambda: seqgen.train(corpus=str(w.corpus), quiet="yes"), "quiet must be true or"),
    ("train-should-stop-bool", lambda w: lambda: seqgen.train(corpus=str(w.corpus), should_stop=True), "should_stop"),
    ("train-sample-length-negative", lambda w: lambda: seqgen.train(corpus=str(w.corpus), sample_length=-1),
     "--sample-length must be >= 0"),
    ("train-forecast-sample-length", lambda w: lambda: seqgen.train("forecast", sample_length=5),
     "--sample-length does not apply to --task forecast"),
    ("train-config-missing", lambda w: lambda: seqgen.train(config=w.dir / "none.toml"), "none.toml"),
    ("train-config-names-itself", lambda w: (lambda p: lambda: seqgen.train(config=p))(
        w.file("c.toml", 'config = "x.toml"\n')), "cannot name another"),
    ("translate-none", lambda w: lambda: seqgen.load(w.tr).translate([None]), "text is NoneType None; give strings"),
    ("translate-second-text-int", lambda w: lambda: seqgen.load(w.tr).translate(["3 May 1979", 3]), "text 2 is int"),
    ("translate-nul", lambda w: lambda: seqgen.load(w.tr).translate("a\x00b"), "NUL"),
    ("translate-int", lambda w: lambda: seqgen.load(w.tr).translate(5), "not int"),
    ("translate-precision", lambda w: lambda: seqgen.load(w.tr).translate("x", precision="bf16"), "--precision"),
    ("translate-inspect-top-k", lambda w: lambda: seqgen.load(w.tr).inspect("3 May 1979", top_k=0), "top_k"),
    ("translate-attention-none", lambda w: lambda: seqgen.load(w.tr).attention("3 May 1979", None), "NoneType"),
    ("inspect-int", lambda w: lambda: seqgen.load(w.lm).inspect(123), "must be text, not 123"),
    ("inspect-window-zero", lambda w: lambda: seqgen.load(w.lm).inspect("the fox", window=0), "window must be >= 1"),
    ("inspect-save-int", lambda w: lambda: seqgen.load(w.lm).inspect("the fox", save=5), "--save must be a path"),
    ("inspect-page-layer-text", lambda w: lambda: seqgen.load(w.lm).inspect("the fox").html(w.dir / "p.html", layer="0"),
     "--layer must be a whole number"),
    ("inspect-png-start-past", lambda w: lambda: seqgen.load(w.lm).inspect("the fox").png(w.dir / "p.png", start=99),
     "--start 99 is past"),
    ("inspect-ranking-zero", lambda w: lambda: seqgen.load(w.lm).inspect("the fox").ranking(0), "--top must be >= 1"),
    ("encode-none", lambda w: lambda: seqgen.load(w.lm).encode(None), "the text to encode"),
    ("evaluate-batch-size-zero", lambda w: lambda: seqgen.load(w.lm).evaluate(batch_size=0),
     "--batch-size must be >= 1, not 0"),
    ("evaluate-split-train", lambda w: lambda: seqgen.load(w.tr).evaluate(split="train"), "--split must be one of"),
    ("evaluate-tr-beam-one", lambda w: lambda: seqgen.load(w.tr).evaluate(beam_size=1), "--beam-size must be >= 2"),
    ("evaluate-fc-backtest-string", lambda w: lambda: seqgen.load(w.fc).evaluate(backtest="yes"),
     "--backtest must be true or false"),
    ("evaluate-cl-test-int", lambda w: lambda: seqgen.load(w.cl).evaluate(test=3), "--test must be a path"),
    ("forecast-from-end-string", lambda w: lambda: seqgen.load(w.fc).forecast(from_end="no"), "--from-end"),
    ("forecast-plot-none", lambda w: lambda: seqgen.load(w.fc).plot(None), "--plot needs a value"),
    ("forecast-plot-table-junk", lambda w: lambda: seqgen.load(w.fc).plot(w.dir / "f.png", table=[1, 2]), "table"),
    ("classify-array-1d", lambda w: lambda: seqgen.load(w.cl).classify(np.zeros(20)), "2-D (examples × steps)"),
    ("classify-none", lambda w: lambda: seqgen.load(w.cl).classify(None), "give the file to classify"),
    ("classify-list-of-none", lambda w: lambda: seqgen.load(w.cl).classify([None]), "give one or more sequences"),
    ("classify-labeled-string", lambda w: lambda: seqgen.load(w.cl).classify(w.ucr, labeled="no"),
     "labeled must be true or false"),
    ("classify-probabilities-beyond-float32", lambda w: lambda: seqgen.load(w.cl).probabilities([[3e38] * 20]),
     "sequence 1 holds 3e+38"),
    ("inspect-classify-beyond-float32", lambda w: lambda: seqgen.load(w.cl).inspect([1e300, 1.0, 2.0]),
     "beyond the range of 32-bit floats"),
    ("generate-music-length-huge", lambda w: lambda: seqgen.load(w.music).generate(length=1_000_000),
     "more than a music sample holds"),
    ("generate-music-samples-times-length", lambda w: lambda: seqgen.load(w.music).generate(num_samples=100_000,
                                                                                            length=1000),
     "100,000,000 tokens, more than the 20,000,000"),
    ("generate-text-samples-times-length", lambda w: lambda: seqgen.load(w.lm).generate(length=10_000_000, num_samples=3),
     "seqgen draws at once"),
    ("write-music-prime-midi-20000-beat-note", lambda w: (lambda p: lambda: seqgen.load(w.music).write(
        prime_midi=str(p), output=str(w.dir / "o.mid")))(_long_note(w.dir / "long.mid")), "lasts 20,000 quarter notes"),
    ("detect-api-values-2d", lambda w: lambda: seqgen.detect([[1.0, 2.0]] * 50, probation=10), "one sequence"),
    ("detect-api-nan", lambda w: lambda: seqgen.detect([1.0] * 49 + [float("nan")], probation=10), "finite numbers"),
    ("detect-api-window-with-forecaster", lambda w: (lambda p: lambda: seqgen.detect(
        p, seqgen.load(w.fc), window=8, probation=10))(w.file("s.csv", _stream())), "--window does not apply"),
    ("detect-api-forecaster-junk", lambda w: lambda: seqgen.detect([1.0] * 50, "model.pt", probation=10),
     "loaded forecast checkpoint"),
    ("detect-api-threshold-two", lambda w: lambda: seqgen.detect([1.0] * 50, probation=10, threshold=2.0),
     "--threshold must be <= 1"),
    ("detect-api-timestamps-length", lambda w: lambda: seqgen.detect([1.0] * 50, timestamps=["a"], probation=10),
     "1 timestamps for 50 values"),
    ("train-threads-zero", lambda w: lambda: seqgen.train(corpus=str(w.corpus), threads=0), "--threads must be >= 1"),
    ("load-threads-text", lambda w: lambda: seqgen.load(w.lm, threads="all"), "--threads must be a whole number"),
    ("generate-threads-zero", lambda w: lambda: seqgen.load(w.lm).generate(threads=0), "--threads must be >= 1"),
    ("predict-rl-none", lambda w: lambda: seqgen.load(w.rl).predict(None), "give a log file (a path)"),
    ("predict-rl-short-unit", lambda w: lambda: seqgen.load(w.rl).predict([np.zeros((3, 4))]),
     "unit 1 has 3 steps, fewer than the window of 5"),
    ("predict-rl-wrong-width", lambda w: lambda: seqgen.load(w.rl).predict([np.zeros((8, 3))]), "(steps, 4) array"),
    ("predict-rl-every-step-text", lambda w: lambda: seqgen.load(w.rl).predict(w.test_logs, every_step="yes"),
     "--every-step must be true or false"),
    ("evaluate-rl-targets-alone", lambda w: lambda: seqgen.load(w.rl).evaluate(test_targets=str(w.truth)), "--test"),
    ("inspect-rl-member", lambda w: lambda: seqgen.load(w.rl).inspect(member=3), "--member must be a network"),
] + [
    (f"load-{task}-{damage}", (lambda t, d: lambda w: (lambda p: lambda: seqgen.load(p))(w.damaged(getattr(w, t), d)))(
        task, damage), DAMAGE_EXPECTED[damage])
    for task in ("lm", "tr", "fc", "cl", "rl") for damage in DAMAGES
]


@pytest.mark.parametrize("build, expected", [pytest.param(b, e, id=i) for i, b, e in API_ROWS])
def test_the_python_api_raises_the_same_one_line(world, build, expected):
    call = build(world)
    for name in (*World.RUNS, "corpus", "ucr"):  # a run the call uses is built before the snapshot, not by the call
        getattr(world, name)
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


# A value the command line refuses is refused by the method it calls, in the same words.
SAME_LINE = [
    ("evaluate-lm-batch-size", lambda w: ["evaluate", w.lm, "--batch-size", 0], lambda w: seqgen.load(w.lm).evaluate(batch_size=0)),
    ("evaluate-lm-num-generated", lambda w: ["evaluate", w.lm, "--num-generated", -1],
     lambda w: seqgen.load(w.lm).evaluate(num_generated=-1)),
    ("evaluate-tr-beam-size", lambda w: ["evaluate", w.tr, "--beam-size", 1000], lambda w: seqgen.load(w.tr).evaluate(beam_size=1000)),
    ("evaluate-tr-split", lambda w: ["evaluate", w.tr, "--split", "train"], lambda w: seqgen.load(w.tr).evaluate(split="train")),
    ("evaluate-fc-holdout", lambda w: ["evaluate", w.fc, "--holdout", 0], lambda w: seqgen.load(w.fc).evaluate(holdout=0)),
    ("evaluate-fc-origins", lambda w: ["evaluate", w.fc, "--origins", 0], lambda w: seqgen.load(w.fc).evaluate(origins=0)),
    ("translate-beam-size", lambda w: ["translate", w.tr, "x", "--beam-size", 65], lambda w: seqgen.load(w.tr).translate("x", beam_size=65)),
    ("translate-length-penalty", lambda w: ["translate", w.tr, "x", "--length-penalty", "nan"],
     lambda w: seqgen.load(w.tr).translate("x", length_penalty=float("nan"))),
    ("translate-max-len", lambda w: ["translate", w.tr, "x", "--max-len", 5000], lambda w: seqgen.load(w.tr).translate("x", max_len=5000)),
    ("translate-batch-size", lambda w: ["translate", w.tr, "x", "--batch-size", 0], lambda w: seqgen.load(w.tr).translate("x", batch_size=0)),
    ("forecast-horizon", lambda w: ["forecast", w.fc, "--horizon", 0], lambda w: seqgen.load(w.fc).forecast(horizon=0)),
    ("sample-top-p", lambda w: ["sample", w.lm, "--top-p", 0], lambda w: seqgen.load(w.lm).generate(top_p=0)),
]


@pytest.mark.parametrize("command, call", [pytest.param(c, f, id=i) for i, c, f in SAME_LINE])
def test_a_value_the_command_line_refuses_the_api_refuses_in_the_same_words(world, command, call):
    with pytest.raises(SeqgenError) as caught:
        call(world)
    assert one_line_error(run(*command(world))) == f"Error: {caught.value}"


# -- faults: a second writer, a full disk, stale temporaries --------------------------------------------------------

@pytest.mark.slow
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


class FullDisk:
    """builtins.open with a disk that fills up in one folder: a file opened there for writing takes `room` bytes,
    then every write (or the flush at close) fails with ENOSPC, as the file system says it. `only` limits it to
    files whose name starts so."""

    def __init__(self, folder, room=64, only=""):
        import builtins

        self.folder, self.room, self.only, self.real = str(folder), room, only, builtins.open

    def __call__(self, file, mode="r", *args, **kwargs):
        handle = self.real(file, mode, *args, **kwargs)
        name = os.fspath(file) if isinstance(file, (str, os.PathLike)) else ""
        if (any(flag in mode for flag in "wax+") and os.path.abspath(name).startswith(self.folder)
                and os.path.basename(name).startswith(self.only)):
            return Filling(handle, self.room)
        return handle


class Filling:
    """A file on a disk with `room` bytes left, written through an 8 KB buffer as Python's are: a small write
    fails only when the buffer goes out (a larger write, flush() or close()), a large one at once."""

    BUFFER = 8192

    def __init__(self, handle, room):
        self._handle, self._room, self._pending, self._full = handle, room, 0, False

    def _out(self):
        if self._full or self._pending > self._room:
            self._full, self._pending = True, 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= self._pending
        self._pending = 0

    def write(self, data):
        self._pending += len(data)
        if self._full or self._pending > self.BUFFER:
            self._out()
        return self._handle.write(data)

    def flush(self):
        self._out()
        self._handle.flush()

    def close(self):
        try:
            if not self._handle.closed:
                self._out()
        finally:
            self._handle.close()

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        return iter(self._handle)


TEXT_TO_INSPECT = make_text(40)


def _with_fluidsynth(args):
    from seqgen.music.audio import synthesizer

    try:
        synthesizer()
    except SeqgenError:
        if not os.environ.get("CI"):  # CI installs FluidSynth: there the row must run
            pytest.skip("FluidSynth is not installed")
    return args

# Every file seqgen writes, with a full disk: (id, build → (arguments, the files it writes)).
OUTPUTS = [
    ("inspect-html", lambda w, o: (["inspect", w.lm, "--text", TEXT_TO_INSPECT, "--html", o / "p.html"], ["p.html"])),
    ("inspect-png", lambda w, o: (["inspect", w.lm, "--text", TEXT_TO_INSPECT, "--png", o / "p.png"], ["p.png"])),
    ("inspect-save-streamed", lambda w, o: (["inspect", w.lm, "--text", TEXT_TO_INSPECT, "--save", o / "g.npz"],
                                            ["g.npz"])),
    ("inspect-save", lambda w, o: (["inspect", w.fc, "--save", o / "g.npz"], ["g.npz"])),
    ("sample-text", lambda w, o: (["sample", w.lm, "--length", 300, "--seed", 1, "--output", o / "s.txt"], ["s.txt"])),
    ("sample-midi", lambda w, o: (["sample", w.music, "--prime-midi", _midi(w.dir / "p.mid", 0), "--length", 5,
                                   "--seed", 1, "--output", o / "s.mid"], ["s.mid"])),
    ("sample-musicxml", lambda w, o: (["sample", w.music, "--prime-midi", _midi(w.dir / "p.mid", 0), "--length", 5,
                                       "--seed", 1, "--format", "musicxml", "--output", o / "s.musicxml"],
                                      ["s.musicxml"])),
    ("sample-wav", lambda w, o: (_with_fluidsynth(["sample", w.music, "--prime-midi", _midi(w.dir / "p.mid", 0),
                                                   "--length", 5, "--seed", 1, "--output", o / "s.wav"]), ["s.wav"])),
    ("sample-plot", lambda w, o: (["sample", w.music, "--prime-midi", _midi(w.dir / "p.mid", 0), "--length", 5,
                                   "--seed", 1, "--plot", "--output", o / "s.mid"], ["s.mid", "s.png"])),
    ("translate-plot-attention", lambda w, o: (["translate", w.tr, "3 May 1979", "--plot-attention", o / "a.png"],
                                               ["a.png"])),
    ("forecast-csv-and-plot", lambda w, o: (["forecast", w.fc, "--csv", o / "f.csv", "--plot", o / "f.png"],
                                            ["f.csv", "f.png"])),
    ("classify-output", lambda w, o: (["classify", w.cl, w.ucr, "--output", o / "c.csv"], ["c.csv"])),
]


@pytest.mark.slow
@pytest.mark.parametrize("build", [pytest.param(b, id=i) for i, b in OUTPUTS])
@pytest.mark.parametrize("room", [0, 64])
def test_a_full_disk_while_an_output_is_written_is_one_line_and_leaves_the_folder_as_it_was(world, monkeypatch,
                                                                                           build, room):
    import builtins

    out = world.dir / "out"
    out.mkdir()
    args, names = build(world, out)
    for name in names:  # the files of an earlier run, which must stay as they were
        (out / name).write_bytes(b"the earlier file")
    monkeypatch.setattr(builtins, "open", FullDisk(out, room))
    line = one_line_error(run(*args))
    monkeypatch.undo()
    assert "No space left on device" in line and str(out) in line, line
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no temporary file or folder is left
    assert all((out / name).read_bytes() == b"the earlier file" for name in names)


def test_a_full_disk_at_the_last_of_several_samples_leaves_every_earlier_one_as_it_was(world, monkeypatch):
    import builtins

    out = world.dir / "out"
    out.mkdir()
    names = ["s-1.txt", "s-2.txt", "s-3.txt"]
    for name in names:
        (out / name).write_bytes(b"the earlier file")
    monkeypatch.setattr(builtins, "open", FullDisk(out, 0, only=".s-3.txt"))
    line = one_line_error(run("sample", world.lm, "--length", 20, "--num-samples", 3, "--seed", 1, "--output",
                              out / "s.txt"))
    monkeypatch.undo()
    assert "cannot write" in line and "s-3.txt: No space left on device" in line
    assert sorted(p.name for p in out.iterdir()) == names
    assert all((out / name).read_bytes() == b"the earlier file" for name in names)
    assert run("sample", world.lm, "--length", 20, "--num-samples", 3, "--seed", 1, "--output", out / "s.txt").exit_code == 0
    assert all((out / name).read_bytes() != b"the earlier file" for name in names)


@pytest.mark.slow
@pytest.mark.parametrize("failing", [".p.png", ".g.npz"])
def test_a_full_disk_at_one_of_inspects_files_leaves_every_one_as_it_was(world, monkeypatch, failing):
    import builtins

    out = world.dir / "out"
    out.mkdir()
    names = ["p.html", "p.png", "g.npz"]
    for name in names:
        (out / name).write_bytes(b"the earlier file")
    monkeypatch.setattr(builtins, "open", FullDisk(out, 0, only=failing))
    line = one_line_error(run("inspect", world.lm, "--text", TEXT_TO_INSPECT, "--html", out / "p.html", "--png",
                              out / "p.png", "--save", out / "g.npz"))
    monkeypatch.undo()
    assert "No space left on device" in line
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    assert all((out / name).read_bytes() == b"the earlier file" for name in names)


REAL_LIMIT = """
import json, resource, signal, sys
from click.testing import CliRunner
from seqgen.cli import cli
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG instead of killing
resource.setrlimit(resource.RLIMIT_FSIZE, (2048, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
print(json.dumps([(r.exit_code, r.output) for r in (CliRunner().invoke(cli, args) for args in json.loads(sys.argv[1]))]))
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs the file-size limit of a POSIX system")
def test_a_real_write_failure_in_every_writer_is_one_line_and_leaves_the_folder_as_it_was(world):
    """The operating system itself refuses the writes (a file-size limit of 2 KB: "File too large"), inside
    matplotlib, numpy, zipfile, music21 and FluidSynth's MIDI, as a full disk would."""
    out = world.dir / "out"
    out.mkdir()
    names = ["p.html", "g.npz", "p.png", "s.mid", "s.musicxml", "f.csv", "f.png"]
    for name in names:
        (out / name).write_bytes(b"the earlier file")
    primer = str(_midi(world.dir / "p.mid", 0))
    text = make_text(200)
    commands = [["inspect", str(world.lm), "--text", text, "--html", str(out / "p.html")],
                ["inspect", str(world.lm), "--text", text, "--save", str(out / "g.npz")],
                ["inspect", str(world.lm), "--text", text, "--png", str(out / "p.png")],
                ["sample", str(world.music), "--prime-midi", primer, "--bars", 20, "--length", 50_000, "--seed", 1, "--output",
                 str(out / "s.mid")],  # some 10 KB
                ["sample", str(world.music), "--prime-midi", primer, "--length", 200, "--seed", 1, "--output",
                 str(out / "s.musicxml"), "--format", "musicxml"],
                ["forecast", str(world.fc), "--csv", str(out / "f.csv"), "--plot", str(out / "f.png")]]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    child = subprocess.run([sys.executable, "-c", REAL_LIMIT, json.dumps([[str(a) for a in c] for c in commands])],
                           env=env, capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    assert "Traceback" not in child.stderr and "Exception ignored" not in child.stderr, child.stderr[-3000:]
    for command, (code, output) in zip(commands, json.loads(child.stdout)):
        lines = [line for line in output.splitlines() if line.strip() and not line.startswith("(seed")]
        assert code == 1 and len(lines) == 1 and "File too large" in lines[0] and str(out) in lines[0], (command, output)
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    assert all((out / name).read_bytes() == b"the earlier file" for name in names)


@pytest.mark.slow
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
