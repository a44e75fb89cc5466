"""Precision: bf16 training where the CPU computes bf16 natively (fp32 elsewhere), fp32 master weights,
and int8 sampling that keeps quality (validation loss within 0.5 % of fp32) and reproducibility."""

import dataclasses
import json
import math

import pytest
import torch

import seqgen.device
from seqgen.decode.sampling import LSTMStepper, Sampling, generate, int8_available, resolve_sample_precision
from seqgen.device import resolve_precision
from seqgen.tasks.language_model import LanguageModel
from seqgen.tasks.language_model.data import load_splits
from seqgen.tasks.language_model.train import train


def test_auto_precision_is_bf16_only_where_the_cpu_has_it(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(seqgen.device, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision("auto", cpu) == "bf16"
    assert resolve_precision("auto", cpu, tokens_per_step=64 * 128) == "bf16"
    # small steps lose more to casting the weights than bf16 products gain (measured), so auto keeps fp32
    assert resolve_precision("auto", cpu, tokens_per_step=16 * 32) == "fp32"
    monkeypatch.setattr(seqgen.device, "cpu_has_native_bf16", lambda: False)
    assert resolve_precision("auto", cpu) == "fp32"  # emulated bf16 would be slower, so auto keeps fp32
    assert resolve_precision("bf16", cpu) == "bf16" and resolve_precision("fp32", cpu) == "fp32"


@pytest.mark.slow
@pytest.mark.parametrize("native", [True, False])
def test_training_records_its_precision_and_keeps_fp32_master_weights(tiny_model, tiny_train, monkeypatch, native):
    monkeypatch.setattr(seqgen.device, "cpu_has_native_bf16", lambda: native)
    monkeypatch.setattr(seqgen.device, "CPU_BF16_MIN_TOKENS", 1)  # the tiny test steps count as large
    result = train(tiny_model, dataclasses.replace(tiny_train, max_steps=12, grad_clip=0.5), progress=False)
    assert json.loads((result.run_dir / "run.json").read_text())["precision"] == ("bf16" if native else "fp32")
    payload = torch.load(result.latest_path, weights_only=True)
    assert all(t.dtype == torch.float32 for t in payload["model_state"].values())
    moments = [s["exp_avg"] for s in payload["optimizer_state"]["state"].values()]
    assert moments and all(m.dtype == torch.float32 for m in moments)
    assert all(torch.isfinite(torch.tensor(h["train_loss"])) for h in result.history if "train_loss" in h)


@pytest.mark.slow
def test_bf16_training_learns_as_well_as_fp32(tiny_model, tiny_train):
    config = dataclasses.replace(tiny_train, max_steps=60, eval_interval=60, lr=1e-2)
    fp32 = train(tiny_model, dataclasses.replace(config, precision="fp32", name="fp32"), progress=False)
    bf16 = train(tiny_model, dataclasses.replace(config, precision="bf16", name="bf16"), progress=False)
    vocab = LanguageModel.load(bf16.best_path, "cpu").tokenizer.vocab_size
    assert bf16.best_val_loss < math.log(vocab) - 0.3  # it learned more than the letters' frequencies
    assert abs(bf16.best_val_loss - fp32.best_val_loss) < 0.05 * fp32.best_val_loss


@pytest.fixture(scope="module")
def trained_lm(tmp_path_factory):
    from conftest import make_text

    from seqgen.models import ModelConfig
    from seqgen.tasks.language_model import TrainConfig

    folder = tmp_path_factory.mktemp("int8")
    (folder / "corpus.txt").write_text(make_text(4000), encoding="utf-8")
    config = TrainConfig(corpus=str(folder / "corpus.txt"), batch_size=8, bptt=32, max_steps=150, eval_interval=150,
                         lr=1e-2, output_dir=str(folder), name="lm", device="cpu")
    result = train(ModelConfig(embedding_dim=32, hidden_size=128, num_layers=2, dropout=0.0), config, progress=False)
    model = LanguageModel.load(result.best_path, "cpu")
    val = torch.from_numpy(load_splits(model.train_config, model.payload["tokenizer"]).ids["val"][:1500]).long()
    return model, val


@pytest.mark.slow
@pytest.mark.skipif(not int8_available(), reason="this PyTorch has no quantized kernels")
def test_int8_sampling_keeps_the_validation_loss_within_half_a_percent(trained_lm):
    model, val = trained_lm
    fp32 = LSTMStepper(model.model).score(val)
    int8 = LSTMStepper(model.model, int8=True).score(val)
    assert fp32 < 2.0  # a model that learned something, so the comparison means something
    assert abs(int8 - fp32) <= 0.005 * fp32, (int8, fp32)


@pytest.mark.skipif(not int8_available(), reason="this PyTorch has no quantized kernels")
def test_the_same_seed_gives_the_same_text_on_the_int8_path(trained_lm):
    model, _ = trained_lm
    first = model.generate(prime="The quick", length=80, seed=5, precision="int8")
    assert model.generate(prime="The quick", length=80, seed=5, precision="int8") == first
    assert first.startswith("The quick") and len(first) == len("The quick") + 80


def test_auto_sampling_precision_is_int8_on_the_cpu_where_the_kernels_exist(monkeypatch):
    import seqgen.decode.sampling as sampling

    cpu = torch.device("cpu")
    expected = "int8" if int8_available() else "fp32"
    assert resolve_sample_precision("auto", cpu) == expected
    assert resolve_sample_precision("fp32", cpu) == "fp32"
    monkeypatch.setattr(sampling, "int8_available", lambda: False)  # a PyTorch without quantized kernels
    assert resolve_sample_precision("auto", cpu) == "fp32" and resolve_sample_precision("int8", cpu) == "fp32"


def test_the_fused_fp32_step_scores_as_the_model_does(trained_lm):
    model, val = trained_lm
    with torch.inference_mode():
        logits, _ = model.model(val[None, :-1])
        expected = float(torch.nn.functional.cross_entropy(logits[0].float(), val[1:]))
    assert LSTMStepper(model.model).score(val) == pytest.approx(expected, rel=1e-4)
    tokens = list(generate(model.model, val[None, :5], 10, Sampling(temperature=0, precision="int8")))
    assert len(tokens) == 10


def test_the_fused_translation_step_gives_the_models_log_probabilities_and_int8_stays_close():
    from seqgen.decode.search import Seq2SeqStepper, _select
    from seqgen.models.seq2seq import Seq2Seq, Seq2SeqConfig

    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(source_vocab_size=20, target_vocab_size=17, embedding_dim=8, hidden_size=16,
                                  num_layers=2, dropout=0.0)).eval()
    source = torch.randint(4, 20, (3, 7))
    lengths = torch.tensor([7, 5, 3])
    source[1, 5:] = 0
    source[2, 3:] = 0
    tokens = torch.randint(4, 17, (3,))
    fused, quantized = Seq2SeqStepper(model), Seq2SeqStepper(model, int8=int8_available())
    with torch.inference_mode():
        expected_state, state, q_state = model.start(source, lengths), fused.start(source, lengths), None
        q_state = quantized.start(source, lengths)
        for _ in range(4):  # several steps, with a beam-style reordering of the rows in between
            expected, expected_state = model.step(tokens, expected_state)
            got, state = fused(tokens, state)
            q_got, q_state = quantized(tokens, q_state)
            assert torch.allclose(got, expected, atol=1e-5)
            assert (q_got - expected).abs().max() < 0.05
            order = torch.tensor([2, 0, 1])
            expected_state, state, q_state = (_select(s, order) for s in (expected_state, state, q_state))
            tokens = expected.argmax(-1)[order]
