from pathlib import Path

import pytest
import torch

import seqgen
from seqgen.checkpoint import FORMAT, VERSION, load_checkpoint, save_checkpoint
from seqgen.config import to_dict
from seqgen.errors import SeqgenError
from seqgen.models import LSTMLanguageModel, ModelConfig
from seqgen.tasks.language_model import LanguageModel
from seqgen.tokenizers.char import CharTokenizer


def write_model(path):
    config = ModelConfig(num_tokens=5, embedding_dim=4, hidden_size=8, num_layers=1)
    model = LSTMLanguageModel(config)
    save_checkpoint({
        "task": "language-model",
        "model_config": to_dict(config),
        "train_config": {},
        "tokenizer": CharTokenizer("abcd\n").to_state(),
        "model_state": model.state_dict(),
    }, path)
    return model


def test_round_trip_loads_with_weights_only(tmp_path):
    path = tmp_path / "model.pt"
    model = write_model(path)
    raw = torch.load(path, weights_only=True)  # plain data only: no code runs from the file
    assert raw["format"] == FORMAT and raw["version"] == VERSION
    lm = LanguageModel.load(path, "cpu")
    loaded, tokenizer = lm.model, lm.tokenizer
    tokens = torch.tensor([[0, 1, 2, 3]])
    model.eval()
    assert torch.equal(loaded(tokens)[0], model(tokens)[0])
    assert tokenizer.decode([0, 4]) == "a\n"


def test_truncated_foreign_newer_and_missing_files_are_refused(tmp_path):
    path = tmp_path / "model.pt"
    write_model(path)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:500])
    with pytest.raises(SeqgenError, match="not a readable seqgen checkpoint"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    with pytest.raises(SeqgenError, match="not a seqgen checkpoint"):
        load_checkpoint(foreign)
    newer = tmp_path / "newer.pt"
    torch.save({"format": FORMAT, "version": VERSION + 1}, newer)
    with pytest.raises(SeqgenError, match="newer seqgen"):
        load_checkpoint(newer)
    with pytest.raises(SeqgenError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_a_crash_while_saving_leaves_the_old_checkpoint_whole(tmp_path, monkeypatch):
    path = tmp_path / "latest.pt"
    write_model(path)
    before = path.read_bytes()

    def crash(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"task": "language-model"}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pt"]  # no temporary file left behind


OLD = Path(__file__).parent / "data" / "checkpoints"  # tiny checkpoints written by earlier seqgen, one folder a version


@pytest.mark.parametrize("version", sorted(int(p.name[1:]) for p in OLD.glob("v*")))
def test_checkpoints_of_every_earlier_version_load_and_work(version, tmp_path):
    """A model trained with an earlier seqgen keeps working: each task's checkpoint of each earlier format loads,
    is lifted to the current layout, and samples, translates, forecasts or classifies."""
    import numpy as np

    from seqgen.checkpoint import upgrade

    folder = OLD / f"v{version}"
    assert version < VERSION and {p.stem for p in folder.glob("*.pt")} == {"language-model", "translate", "forecast",
                                                                          "classify"}
    for path in sorted(folder.glob("*.pt")):
        assert torch.load(path, weights_only=True)["version"] == version
        payload = load_checkpoint(path)
        assert payload["version"] == VERSION and upgrade(dict(payload)) == payload  # lifting twice changes nothing
    lm = seqgen.load(folder / "language-model.pt", "cpu")
    assert lm.model.config.num_tokens == lm.tokenizer.vocab_size
    assert len(lm.generate(length=20, seed=0, prime="the ")) == len("the ") + 20
    assert lm.generate(length=20, seed=0) == lm.generate(length=20, seed=0)
    translated = seqgen.load(folder / "translate.pt", "cpu").translate(["3 May 1979"])
    assert len(translated) == 1 and isinstance(translated[0], str)
    rows = seqgen.load(folder / "forecast.pt", "cpu").forecast(horizon=3)
    assert [row["step"] for row in rows] == [1, 2, 3] and all(np.isfinite(row["forecast"]) for row in rows)
    series = tmp_path / "series.ucr"
    series.write_text("\n".join(" ".join([str(1 + i % 2)] + [f"{(-1) ** i * (t / 10 - 1):.2f}" for t in range(20)])
                                for i in range(4)) + "\n")
    result = seqgen.load(folder / "classify.pt", "cpu").classify(str(series))
    assert len(result) == 4


def test_a_checkpoint_of_a_newer_format_is_one_line(tmp_path):
    newer = tmp_path / "newer.pt"
    torch.save({"format": FORMAT, "version": VERSION + 1, "task": "forecast"}, newer)
    with pytest.raises(SeqgenError) as caught:
        seqgen.load(newer, "cpu")
    assert "newer seqgen" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("task, part", [("classify", ("layout",)), ("forecast", ("preprocessing", "combine"))])
def test_a_current_checkpoint_lacking_a_part_older_formats_are_given_is_one_line(task, part, tmp_path):
    """upgrade() gives the checkpoints of older formats every part the current format has; a current-format
    checkpoint without one is damaged, refused in one line that names it, never read with a guessed default."""
    payload = {k: v for k, v in load_checkpoint(OLD / "v1" / f"{task}.pt").items()
               if k not in ("format", "version", "seqgen_version")}
    holder = payload
    for key in part[:-1]:
        holder = holder[key]
    del holder[part[-1]]
    path = save_checkpoint(payload, tmp_path / "damaged.pt")
    with pytest.raises(SeqgenError) as caught:
        seqgen.load(path, "cpu")
    message = str(caught.value)
    assert "\n" not in message and "damaged" in message and part[-1] in message
