"""The cell written out (seqgen.models.gates) is nn.LSTM itself: its h and C equal nn.LSTM's outputs and
final state, to 1e-5, in every layer, with and without a carried state, for every LSTM in seqgen."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqgen.models import LSTMLanguageModel, ModelConfig, Seq2SeqConfig
from seqgen.models.classify import LSTMClassifier
from seqgen.models.forecast import LSTMForecaster
from seqgen.models.gates import lstm_gates
from seqgen.models.seq2seq import Seq2Seq

TOLERANCE = 1e-5


def shaken(module: nn.Module, seed: int) -> nn.Module:
    """Random values in every weight and both bias vectors (seq2seq starts its biases at 0 and 1), so that a
    bias left out or a gate taken in the wrong order shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.4)
    return module.eval()


def random_state(lstm: nn.LSTM, batch: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    shape = (lstm.num_layers * (2 if lstm.bidirectional else 1), batch, lstm.hidden_size)
    return torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)


def per_layer_reference(lstm: nn.LSTM, x: torch.Tensor, state, lengths=None):
    """nn.LSTM's own outputs of every layer (one single-layer nn.LSTM per layer with the same weights) and its
    final state: the figures the written-out cell must reproduce."""
    directions = 2 if lstm.bidirectional else 1
    outputs, layer_input = [], x
    for layer in range(lstm.num_layers):
        single = nn.LSTM(layer_input.size(2), lstm.hidden_size, batch_first=True, bidirectional=lstm.bidirectional)
        suffixes = ["", "_reverse"][:directions]
        single.load_state_dict({f"{kind}_l0{s}": getattr(lstm, f"{kind}_l{layer}{s}")
                                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") for s in suffixes})
        part = None if state is None else tuple(s[layer * directions:(layer + 1) * directions] for s in state)
        if lengths is None:
            out, _ = single(layer_input, part)
        else:
            packed = pack_padded_sequence(layer_input, lengths, batch_first=True, enforce_sorted=False)
            out, _ = single(packed, part)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        outputs.append(out)
        layer_input = out
    if lengths is None:
        _, final = lstm(x, state)
    else:
        _, final = lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False), state)
    return outputs, final


def assert_same_as_nn_lstm(lstm: nn.LSTM, x: torch.Tensor, state=None, lengths=None):
    with torch.no_grad():
        outputs, (h_n, c_n) = per_layer_reference(lstm, x, state, lengths)
        gates, (h_ours, c_ours) = lstm_gates(lstm, x, state, lengths)
    for layer, out in enumerate(outputs):
        assert torch.allclose(gates["h"][layer], out, atol=TOLERANCE), f"h of layer {layer}"
    assert torch.allclose(h_ours, h_n, atol=TOLERANCE) and torch.allclose(c_ours, c_n, atol=TOLERANCE)
    # C_t is checked at every step too: the final C of a run stopped at step t is the recorded C_t.
    for t in (1, x.size(1) // 2):
        cut = None if lengths is None else lengths.clamp(max=t)
        if lengths is None and lstm.bidirectional:
            continue  # the backward direction's C_t depends on the steps after t
        _, (_, c_t) = per_layer_reference(lstm, x[:, :t], state, cut)
        directions = 2 if lstm.bidirectional else 1
        # with two directions only the first layer's forward C_t stands alone: later layers read the backward h
        for layer in range(1 if lstm.bidirectional else lstm.num_layers):
            forward_c = gates["c"][layer, :, t - 1, :lstm.hidden_size]
            expected = c_t[layer * directions]
            rows = slice(None) if cut is None else cut >= t
            assert torch.allclose(forward_c[rows], expected[rows], atol=TOLERANCE), f"C_t of layer {layer}"
    # the quantities obey the cell's equations among themselves
    assert torch.allclose(gates["h"], gates["o"] * torch.tanh(gates["c"]), atol=TOLERANCE)
    return gates


@pytest.mark.parametrize("carried", [False, True])
def test_language_model_lstm(carried):
    model = shaken(LSTMLanguageModel(ModelConfig(num_tokens=20, embedding_dim=8, hidden_size=12, num_layers=3)), 0)
    x = model.embedding(torch.randint(0, 20, (2, 17)))
    state = random_state(model.lstm, 2, 1) if carried else None
    gates = assert_same_as_nn_lstm(model.lstm, x, state)
    assert set(gates) == {"i", "f", "g", "o", "c", "h"} and gates["f"].shape == (3, 2, 17, 12)


@pytest.mark.parametrize("carried", [False, True])
def test_seq2seq_encoder_bidirectional_packed(carried):
    model = shaken(Seq2Seq(Seq2SeqConfig(source_vocab_size=15, target_vocab_size=15, embedding_dim=6,
                                         hidden_size=7, num_layers=2, dropout=0.0)), 2)
    source = torch.randint(4, 15, (3, 9))
    lengths = torch.tensor([9, 4, 6])
    x = model.encoder.embedding(source)
    state = random_state(model.encoder.lstm, 3, 3) if carried else None
    gates = assert_same_as_nn_lstm(model.encoder.lstm, x, state, lengths)
    assert gates["h"].shape == (2, 3, 9, 14)
    assert torch.all(gates["h"][:, 1, 4:] == 0)  # padding records nothing, as pad_packed_sequence gives zeros
    # the encoder's own memory is the last layer's h, forward units then backward ones
    memory, _ = model.encoder(source, lengths)
    if not carried:
        assert torch.allclose(gates["h"][-1], memory, atol=TOLERANCE)


def test_seq2seq_encoder_bidirectional_unpacked():
    model = shaken(Seq2Seq(Seq2SeqConfig(source_vocab_size=15, target_vocab_size=15, embedding_dim=6,
                                         hidden_size=7, num_layers=2, dropout=0.0)), 4)
    x = model.encoder.embedding(torch.randint(4, 15, (2, 8)))
    assert_same_as_nn_lstm(model.encoder.lstm, x, random_state(model.encoder.lstm, 2, 5))
    assert_same_as_nn_lstm(model.encoder.lstm, x)


@pytest.mark.parametrize("carried", [False, True])
def test_seq2seq_decoder_lstm(carried):
    model = shaken(Seq2Seq(Seq2SeqConfig(source_vocab_size=15, target_vocab_size=15, embedding_dim=6,
                                         hidden_size=7, num_layers=2, dropout=0.0)), 6)
    x = model.decoder.embedding(torch.randint(4, 15, (2, 10)))
    # the decoder always starts from the encoder's bridged state; "not carried" checks the zero state as well
    state = random_state(model.decoder.lstm, 2, 7) if carried else None
    assert_same_as_nn_lstm(model.decoder.lstm, x, state)


@pytest.mark.parametrize("carried", [False, True])
def test_forecast_lstm(carried):
    model = shaken(LSTMForecaster(input_size=3, hidden_size=9, num_layers=2, horizon=4), 8)
    x = torch.randn(4, 24, 3)
    state = random_state(model.lstm, 4, 9) if carried else None
    gates = assert_same_as_nn_lstm(model.lstm, x, state)
    if not carried:  # the head reads the last step's h: the forecast comes out of the recorded h
        assert torch.allclose(model.head(gates["h"][-1, :, -1]), model(x), atol=TOLERANCE)


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("carried", [False, True])
def test_classify_lstm(bidirectional, carried):
    model = shaken(LSTMClassifier(num_classes=3, hidden_size=5, num_layers=2, bidirectional=bidirectional,
                                  conv_channels=0, dropout=0.0), 10)
    x = torch.randn(3, 13, 1)
    lengths = torch.tensor([13, 7, 10])
    state = random_state(model.lstm, 3, 11) if carried else None
    assert_same_as_nn_lstm(model.lstm, x, state, lengths)


def test_a_window_at_a_time_with_the_state_carried_is_the_whole_text_at_once():
    model = shaken(LSTMLanguageModel(ModelConfig(num_tokens=20, embedding_dim=8, hidden_size=12, num_layers=2)), 12)
    x = model.embedding(torch.randint(0, 20, (1, 30)))
    whole, final = lstm_gates(model.lstm, x)
    state, parts = None, []
    for start in range(0, 30, 7):
        gates, state = lstm_gates(model.lstm, x[:, start:start + 7], state)
        parts.append(gates["c"])
    assert torch.allclose(torch.cat(parts, dim=2), whole["c"], atol=TOLERANCE)
    assert torch.allclose(state[1], final[1], atol=TOLERANCE)
