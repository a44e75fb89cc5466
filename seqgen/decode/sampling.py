"""Sampling from a language model: temperature, top-k, top-p, the fused CPU step, the CUDA-graph step,
carried state and streamed text."""

from __future__ import annotations

from typing import Iterator, Optional

import torch


def filter_logits(logits: torch.Tensor, top_k: Optional[int], top_p: Optional[float]) -> torch.Tensor:
    """Keep the k most likely tokens and/or the smallest set whose probability reaches p. (N, V) → (N, V)"""
    if top_k is not None and 0 < top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token once the tokens before it already reach p; the most likely always stays.
        drop = cumulative - sorted_logits.softmax(-1) >= top_p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def sample_next(logits: torch.Tensor, temperature: float, top_k: Optional[int] = None,
                top_p: Optional[float] = None, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """One token per row of logits (N, V) → (N,). Temperature 0 is greedy (argmax)."""
    logits = logits.float()
    if temperature == 0:
        return logits.argmax(-1)
    if temperature != 1.0:
        logits = logits / temperature
    logits = filter_logits(logits, top_k, top_p)
    return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)


class LSTMStepper:
    """One token at a time, without nn.LSTM's per-call overhead (large on the CPU at batch 1).

    Each layer's input and recurrent matrices are fused into one, so a step costs one matrix
    product and a few pointwise operations per layer; the results match the model's forward.
    """

    def __init__(self, model):
        lstm = model.lstm
        self.weights, self.biases = [], []
        for layer in range(lstm.num_layers):
            w_ih, w_hh = getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"weight_hh_l{layer}")
            self.weights.append(torch.cat([w_ih, w_hh], dim=1).t().contiguous())  # (I + H, 4H)
            self.biases.append(getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}"))
        self.embedding = model.embedding.weight
        self.projection = model.projection
        self.decoder = model.decoder

    def __call__(self, token: torch.Tensor, h: list, c: list) -> torch.Tensor:
        """token (N,) → logits (N, V); h and c, lists of (N, H) per layer, are updated in place."""
        x = self.embedding[token]  # (N, E)
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            gates = torch.addmm(bias, torch.cat([x, h[layer]], dim=1), weight)  # (N, 4H)
            i, f, g, o = gates.chunk(4, dim=1)
            c[layer] = torch.sigmoid(f) * c[layer] + torch.sigmoid(i) * torch.tanh(g)
            h[layer] = x = torch.sigmoid(o) * torch.tanh(c[layer])
        if self.projection is not None:
            x = self.projection(x)
        return self.decoder(x)


def pick_with_noise(logits: torch.Tensor, noise: torch.Tensor, temperature: float, top_k: Optional[int] = None,
                    top_p: Optional[float] = None) -> torch.Tensor:
    """Sample (N, V) logits → (N,) with the exponential-race (Gumbel-max) trick: argmax of p / E.

    With E ~ Exp(1) drawn independently per entry, the argmax of log p - log E is distributed
    exactly as p, so sampling needs no multinomial call and no host sync: the draw can live
    inside a CUDA graph while the noise is filled outside it.
    """
    if temperature == 0:
        return logits.argmax(-1)
    logits = filter_logits(logits.float() / temperature, top_k, top_p)
    return (logits - noise.clamp_min(1e-30).log()).argmax(-1)


class StaticSampler:
    """The whole decode step — sample a token, embed it, run the LSTM layers and the output layer —
    on fixed buffers, so that on CUDA it is captured once as a CUDA graph and replayed per token.

    One graph replay replaces the dozens of kernel launches of an eager step, which is what a
    batch-1 decode on a GPU spends its time on. The noise for sampling is drawn from the user's
    generator outside the graph (one launch per step), so a seed still fixes the text. Where
    capture is not possible (the CPU, or a failed capture) the same step runs eagerly.
    """

    def __init__(self, model, logits: torch.Tensor, h: list, c: list, temperature: float,
                 top_k: Optional[int] = None, top_p: Optional[float] = None,
                 generator: Optional[torch.Generator] = None, capture: Optional[bool] = None):
        self.stepper = LSTMStepper(model)
        self.options = (temperature, top_k, top_p)
        self.generator = generator
        self.logits = logits.float().clone()  # (N, V): the distribution of the next token
        self.noise = torch.ones_like(self.logits)
        self.h, self.c = [t.clone() for t in h], [t.clone() for t in c]  # per layer (N, H)
        self.token = torch.zeros(self.logits.size(0), dtype=torch.long, device=self.logits.device)
        self.graph = None
        if capture is None:
            capture = self.logits.is_cuda
        if capture:
            self.graph = self._capture()

    def _step(self) -> None:
        token = pick_with_noise(self.logits, self.noise, *self.options)
        self.token.copy_(token)
        h, c = list(self.h), list(self.c)
        logits = self.stepper(token, h, c)
        for static, new in zip(self.h + self.c + [self.logits], h + c + [logits]):
            static.copy_(new)

    def _capture(self):
        buffers = self.h + self.c + [self.logits, self.token]
        saved = [b.clone() for b in buffers]
        with torch.cuda.device(self.logits.device):  # the model's GPU, which need not be the current one
            caller = torch.cuda.current_stream()
            stream = torch.cuda.Stream()
            graph = torch.cuda.CUDAGraph()
            try:
                stream.wait_stream(caller)
                with torch.cuda.stream(stream):  # warm-up runs allocate outside the graph, as capture requires
                    for _ in range(3):
                        self._step()
                caller.wait_stream(stream)
                with torch.cuda.graph(graph, stream=stream):
                    self._step()
            except RuntimeError as error:  # keep sampling, eagerly, rather than fail
                import warnings

                torch.cuda.set_stream(caller)  # a failed capture can leave its stream current
                torch.cuda.synchronize()  # raises again if the error left the device unusable
                warnings.warn(f"CUDA graph capture failed ({error}); sampling step by step instead", stacklevel=2)
                graph = None
            for buffer, value in zip(buffers, saved):  # the warm-up steps must not advance the text
                buffer.copy_(value)
        return graph

    def __call__(self) -> torch.Tensor:
        """The next token (N,); the state advances by one step. The tensor is reused: copy to keep it."""
        if self.options[0] != 0:
            self.noise.exponential_(generator=self.generator)
        if self.graph is not None:
            with torch.cuda.device(self.logits.device):
                self.graph.replay()
        else:
            self._step()
        return self.token


@torch.inference_mode()
def generate(model, prime: torch.Tensor, length: int, temperature: float = 1.0, top_k: Optional[int] = None,
             top_p: Optional[float] = None, generator: Optional[torch.Generator] = None) -> Iterator[torch.Tensor]:
    """Yield `length` tokens (N,) continuing `prime` (N, P), one step at a time.

    The primer runs through the LSTM once; after that each step feeds only the newest token and
    the carried (h, c) state, so the cost per token does not grow with the text.
    """
    model.eval()
    logits, (h, c) = model(prime)  # (N, P, V)
    logits = logits[:, -1]
    if prime.is_cuda:  # one CUDA graph replay per token instead of an eager step's many launches
        sampler = StaticSampler(model, logits, list(h.unbind(0)), list(c.unbind(0)), temperature, top_k, top_p,
                                generator)
        for _ in range(length):
            yield sampler().clone()
        return
    # The fused step wins on the CPU at small batches; at large ones nn.LSTM's kernel is faster.
    if prime.size(0) > 32:
        state = (h, c)
        for _ in range(length):
            token = sample_next(logits, temperature, top_k, top_p, generator)  # (N,)
            yield token
            logits, state = model(token[:, None], state)
            logits = logits[:, -1]
        return
    step = LSTMStepper(model)
    h, c = list(h.unbind(0)), list(c.unbind(0))  # per layer (N, H)
    for _ in range(length):
        token = sample_next(logits, temperature, top_k, top_p, generator)  # (N,)
        yield token
        logits = step(token, h, c)


def stream_text(tokenizer, tokens: Iterator[torch.Tensor]) -> Iterator[str]:
    """Turn a single sample's tokens into text pieces as soon as they decode to whole characters."""
    pending: list[int] = []
    for token in tokens:
        pending.append(int(token[0]))
        text = tokenizer.decode(pending)
        if not text.endswith("\ufffd"):  # a byte-fallback character may still be incomplete
            pending.clear()
            yield text
    if pending:
        yield tokenizer.decode(pending)
