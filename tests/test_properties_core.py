"""Property tests of what parses outside data in the shared core: checkpoint files (any bytes, and any
hand edit of a real one) and configuration (any TOML file, any option values)."""

import dataclasses

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqgen.checkpoint import load_checkpoint, save_checkpoint
from seqgen.config import build, read_config_file, to_dict
from seqgen.errors import SeqgenError
from seqgen.models import LSTMLanguageModel, ModelConfig
from seqgen.tasks.language_model import LanguageModel, TrainConfig
from seqgen.tokenizers.char import CharTokenizer

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

junk = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def good_payload():
    config = ModelConfig(num_tokens=5, embedding_dim=4, hidden_size=8, num_layers=1)
    return {"task": "language-model", "model_config": to_dict(config), "train_config": to_dict(TrainConfig()),
            "tokenizer": CharTokenizer("abcd\n").to_state(), "model_state": LSTMLanguageModel(config).state_dict()}


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_any_bytes_load_as_a_checkpoint_or_give_seqgens_error(tmp_path, data):
    path = tmp_path / "x.pt"
    path.write_bytes(data)
    try:
        payload = load_checkpoint(path)
    except SeqgenError:
        return
    assert isinstance(payload, dict)


@SETTINGS
@given(section=st.sampled_from(["model_config", "train_config", "tokenizer", "model_state", "task", "version"]),
       key=st.one_of(st.none(), st.sampled_from(["num_tokens", "vocab_size", "hidden_size", "num_layers", "chars", "kind", "lr",
                                                 "bptt", "lstm.weight_hh_l0", "decoder.weight"])),
       value=junk)
@pytest.mark.slow
def test_any_hand_edit_of_a_checkpoint_loads_or_gives_one_line(tmp_path, good_payload, section, key, value):
    payload = dict(good_payload)
    if key is None or not isinstance(payload.get(section), dict):
        payload[section] = value
    else:
        payload[section] = {**payload[section], key: value}
    path = tmp_path / "edited.pt"
    try:
        save_checkpoint(payload, path)
    except Exception:
        return  # torch cannot even write this value; nothing to load
    try:
        model = LanguageModel.load(path, "cpu")
    except SeqgenError as error:
        assert "\n" not in str(error)
        return
    tokens = torch.zeros(1, 3, dtype=torch.long)
    assert model.model(tokens)[0].shape[-1] == model.tokenizer.vocab_size


@SETTINGS
@given(text=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_config_file_reads_or_gives_one_line(tmp_path, text):
    path = tmp_path / "run.toml"
    path.write_bytes(text)
    try:
        values = read_config_file(str(path))
    except SeqgenError as error:
        assert "\n" not in str(error)
        return
    assert isinstance(values, dict)


@pytest.mark.slow
@SETTINGS
@given(values=st.dictionaries(st.sampled_from([f.name for f in dataclasses.fields(TrainConfig)]), junk, max_size=4))
def test_any_option_values_make_a_config_or_give_seqgens_error(values):
    try:
        config = build(TrainConfig, values)
    except SeqgenError as error:
        assert str(error).startswith("--") and "\n" not in str(error)
        return
    assert isinstance(config, TrainConfig)
