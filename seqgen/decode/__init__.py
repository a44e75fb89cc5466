"""Decoding, shared by every task that generates tokens: sampling (temperature, top-k, top-p, the
exponential race, the CUDA graph) and search (greedy, beam)."""
