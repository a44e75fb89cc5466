import dataclasses

import pytest
import torch

from seqgen.decode.sampling import Sampling, filter_logits, generate, sample_next
from seqgen.models import LSTMLanguageModel, ModelConfig


def model():
    torch.manual_seed(0)
    return LSTMLanguageModel(ModelConfig(num_tokens=7, embedding_dim=6, hidden_size=12, num_layers=2)).eval()


def test_temperature_zero_is_argmax_and_carried_state_matches_rerunning_the_prefix():
    net = model()
    prime = torch.tensor([[1, 2, 3]])
    tokens = torch.cat(list(generate(net, prime, 10, Sampling(temperature=0.0))))
    sequence = prime[0].tolist()
    with torch.no_grad():
        for token in tokens.tolist():
            logits, _ = net(torch.tensor([sequence]))  # the slow way: the whole prefix again
            assert token == int(logits[0, -1].argmax())
            sequence.append(token)


def test_same_seed_same_sample_and_another_seed_differs():
    net = model()
    prime = torch.tensor([[0]]).repeat(3, 1)

    def draw(seed):
        generator = torch.Generator().manual_seed(seed)
        return torch.stack(list(generate(net, prime, 40, Sampling(temperature=1.5), generator)), 1)

    assert torch.equal(draw(5), draw(5))
    assert not torch.equal(draw(5), draw(6))


def test_top_k_and_top_p_keep_only_the_likely_tokens():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isfinite(filter_logits(logits, 2, None)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, None, 0.7)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, None, 0.5)).tolist() == [[True, False, False, False]]
    assert torch.isfinite(filter_logits(logits, None, 0.81)).tolist() == [[True, True, True, False]]
    generator = torch.Generator().manual_seed(0)
    draws = {int(sample_next(logits, 1.0, top_k=2, generator=generator)) for _ in range(200)}
    assert draws == {0, 1}


def test_the_fused_step_matches_the_model_forward():
    from seqgen.decode.sampling import LSTMStepper

    for tie in (False, True):
        torch.manual_seed(1)
        net = LSTMLanguageModel(ModelConfig(num_tokens=9, embedding_dim=6, hidden_size=10, num_layers=3, tie_weights=tie)).eval()
        tokens = torch.randint(9, (2, 5))
        with torch.no_grad():
            expected, _ = net(tokens)
            step = LSTMStepper(net)
            h = [torch.zeros(2, 10) for _ in range(3)]
            c = [torch.zeros(2, 10) for _ in range(3)]
            for t in range(5):
                assert torch.allclose(step(tokens[:, t], h, c), expected[:, t], atol=1e-5)


def test_noise_sampling_follows_the_distribution_and_its_filters():
    from seqgen.decode.sampling import pick_with_noise

    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log().expand(40_000, 4)  # 40,000 independent draws at once
    generator = torch.Generator().manual_seed(0)
    noise = torch.empty(40_000, 4).exponential_(generator=generator)
    counts = torch.bincount(pick_with_noise(logits, noise, 1.0), minlength=4) / 40_000
    assert torch.allclose(counts, probs, atol=0.01)
    assert set(pick_with_noise(logits, noise, 1.0, top_k=2).tolist()) == {0, 1}
    nucleus = torch.bincount(pick_with_noise(logits, noise, 1.0, top_p=0.7), minlength=4) / 40_000
    assert torch.allclose(nucleus, torch.tensor([0.5, 0.3, 0.0, 0.0]) / 0.8, atol=0.01)
    sharp = torch.bincount(pick_with_noise(logits, noise, 0.5), minlength=4) / 40_000
    assert torch.allclose(sharp, torch.softmax(probs.log() / 0.5, 0), atol=0.01)
    assert pick_with_noise(logits[:1], noise[:1], 0.0).item() == 0


def test_the_graph_ready_sampler_matches_the_eager_step_without_a_gpu():
    from seqgen.decode.sampling import StaticSampler

    net = model()
    prime = torch.tensor([[1, 2, 3], [4, 5, 6]])
    expected = torch.stack(list(generate(net, prime, 12, Sampling(temperature=0.0))), 1)

    def sampler(temperature, seed=0):
        with torch.no_grad():
            logits, (h, c) = net(prime)
            return StaticSampler(net, logits[:, -1], list(h.unbind(0)), list(c.unbind(0)), Sampling(temperature),
                                 generator=torch.Generator().manual_seed(seed), capture=False)

    greedy = sampler(0.0)
    with torch.no_grad():
        assert torch.equal(torch.stack([greedy().clone() for _ in range(12)], 1), expected)

    def draw(seed):
        s = sampler(1.5, seed)
        with torch.no_grad():
            return torch.stack([s().clone() for _ in range(30)], 1)

    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))


def test_large_batches_take_the_nn_lstm_path_and_agree_with_the_fused_step():
    net = model()
    prime = torch.tensor([[1, 2, 3]])
    fused = torch.cat(list(generate(net, prime, 15, Sampling(temperature=0.0))))  # batch 1: the fused step
    batched = torch.stack(list(generate(net, prime.repeat(40, 1), 15, Sampling(temperature=0.0))), 1)  # batch 40: nn.LSTM
    assert torch.equal(batched, fused.expand(40, -1))


def test_a_failed_graph_capture_warns_and_samples_from_where_the_primer_left_off(monkeypatch):
    """The capture code runs (on stand-ins for the CUDA calls, which fail at capture): its warm-up
    steps must be undone, so the text is the one the eager sampler writes."""
    import contextlib

    import pytest

    from seqgen.decode.sampling import StaticSampler

    class Stand:
        def __init__(self, *args, **kwargs):
            pass

        def wait_stream(self, other):
            pass

    @contextlib.contextmanager
    def failing_graph(graph, stream=None):
        raise RuntimeError("capture not supported here")
        yield

    for name, value in {"device": lambda d: contextlib.nullcontext(), "current_stream": Stand, "Stream": Stand,
                        "stream": lambda s: contextlib.nullcontext(), "CUDAGraph": Stand, "graph": failing_graph,
                        "set_stream": lambda s: None, "synchronize": lambda: None}.items():
        monkeypatch.setattr(torch.cuda, name, value)
    net = model()
    prime = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        logits, (h, c) = net(prime)

        def sampler(capture):
            return StaticSampler(net, logits[:, -1], list(h.unbind(0)), list(c.unbind(0)), Sampling(1.5),
                                 generator=torch.Generator().manual_seed(0), capture=capture)

        reference = sampler(capture=False)
        expected = torch.cat([reference().clone() for _ in range(20)])
        with pytest.warns(UserWarning, match="capture failed"):
            fallback = sampler(capture=True)
        assert fallback.graph is None
        assert torch.equal(fallback.logits, logits[:, -1]) and torch.equal(fallback.h[1], h[1])
        assert torch.equal(torch.cat([fallback().clone() for _ in range(20)]), expected)


@pytest.mark.slow
def test_the_buffered_step_draws_exactly_what_the_plain_step_and_multinomial_draw():
    """generate's CPU step (preallocated buffers, the sampling race run directly) changes no token for a seed:
    the same as LSTMStepper's step with sample_next (softmax + torch.multinomial), int8 and fp32."""
    from seqgen.decode.sampling import LSTMStepper, int8_available

    for tie, layers, rows in ((False, 2, 1), (True, 3, 3)):
        torch.manual_seed(2)
        net = LSTMLanguageModel(ModelConfig(num_tokens=11, embedding_dim=8, hidden_size=12, num_layers=layers,
                                            tie_weights=tie)).eval()
        prime = torch.randint(11, (rows, 4))
        for precision in ("fp32", "int8") if int8_available() else ("fp32",):
            for temperature, top_k in ((1.0, None), (0.7, None), (0.0, None), (1.2, 4)):
                generator = torch.Generator().manual_seed(7)
                with torch.inference_mode():
                    logits, (h, c) = net(prime)
                    logits, h, c = logits[:, -1], list(h.unbind(0)), list(c.unbind(0))
                    step, expected = LSTMStepper(net, int8=precision == "int8"), []
                    for _ in range(50):
                        expected.append(sample_next(logits, temperature, top_k, None, generator))
                        logits = step(expected[-1], h, c)
                drawn = generate(net, prime, 50, Sampling(temperature, top_k, None, precision), torch.Generator().manual_seed(7))
                assert torch.equal(torch.stack(list(drawn), 1), torch.stack(expected, 1)), (precision, temperature)


def test_the_sample_options_reach_the_draw_as_one_typed_value():
    """Every sampling knob of `seqgen sample` travels to the draw in one Sampling, none dropped on the way."""
    from seqgen.tasks.language_model import SampleConfig

    config = SampleConfig(temperature=0.5, top_k=3, top_p=0.9, precision="int8")
    assert config.sampling == Sampling(temperature=0.5, top_k=3, top_p=0.9, precision="int8")
    assert {f.name for f in dataclasses.fields(Sampling)} <= {f.name for f in dataclasses.fields(SampleConfig)}
