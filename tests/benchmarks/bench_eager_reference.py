#!/usr/bin/python3
"""Eager PyTorch models of the same architectures as the workbench's, timed like
`context-pythia bench`: the yardstick for the C++ training step (issue #13).

Benchmark, not a test. Needs Debian's python3-torch (the same libtorch 1.13 as the workbench);
the real Brown tokens come from the workbench's own token cache (run scripts/setup.sh and any
experiment, or `context-pythia data prepare`, first).

    /usr/bin/python3 tests/benchmarks/bench_eager_reference.py --size 70m --batch 8 --seq-length 128 \
        --steps 5 --warmup 2 --threads 2

Prints one JSON object: tokens/s and seconds/step for Pythia and Context-Pythia. The models
follow docs/design/MODEL_SPEC.md in the plain style of Hugging Face's GPTNeoX eager attention:
fused qkv viewed per head, rotary on the first quarter of each head, float32 scores and
softmax, parallel residual, exact GELU; the ContextBlock is its recurrence written directly.
"""
import argparse
import glob
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {  # MODEL_SPEC.md §1-2 and the workbench's tiny presets
    "70m": {"pythia": dict(width=512, layers=6, heads=8, inter=2048),
            "context-pythia": dict(embed=512, width=256, layers=6, heads=8, inter=1024)},
    "tiny": {"pythia": dict(width=64, layers=2, heads=4, inter=256),
             "context-pythia": dict(embed=64, width=32, layers=2, heads=4, inter=128)},
}
VOCAB = 50304


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.rot = int(self.head_dim * 0.25)
        self.query_key_value = nn.Linear(width, 3 * width)
        self.dense = nn.Linear(width, width)
        inv = 1.0 / (10000 ** (torch.arange(0, self.rot, 2).float() / self.rot))
        self.register_buffer("inv_freq", inv, persistent=False)

    def rotate(self, x):
        t = x.shape[2]
        angles = torch.outer(torch.arange(t, dtype=torch.float32), self.inv_freq)
        emb = torch.cat([angles, angles], -1)
        cos, sin = emb.cos(), emb.sin()
        r, p = x[..., : self.rot], x[..., self.rot:]
        half = self.rot // 2
        rotated = torch.cat([-r[..., half:], r[..., :half]], -1)
        return torch.cat([r * cos + rotated * sin, p], -1)

    def forward(self, x):
        b, t, w = x.shape
        qkv = self.query_key_value(x).view(b, t, self.heads, 3 * self.head_dim)
        q = qkv[..., : self.head_dim].permute(0, 2, 1, 3)
        k = qkv[..., self.head_dim: 2 * self.head_dim].permute(0, 2, 1, 3)
        v = qkv[..., 2 * self.head_dim:].permute(0, 2, 1, 3)
        q, k = self.rotate(q), self.rotate(k)
        scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) / math.sqrt(self.head_dim)
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
        probs = torch.softmax(scores, -1).to(v.dtype)
        return self.dense(torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(b, t, w))


class Layer(nn.Module):
    def __init__(self, width, heads, inter):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(width)
        self.post_attention_layernorm = nn.LayerNorm(width)
        self.attention = Attention(width, heads)
        self.up, self.down = nn.Linear(width, inter), nn.Linear(inter, width)

    def forward(self, x):
        mlp = self.down(F.gelu(self.up(self.post_attention_layernorm(x))))
        return x + self.attention(self.input_layernorm(x)) + mlp


class Pythia(nn.Module):
    def __init__(self, width, layers, heads, inter):
        super().__init__()
        self.embed_in = nn.Embedding(VOCAB, width)
        self.layers = nn.ModuleList(Layer(width, heads, inter) for _ in range(layers))
        self.final_layer_norm = nn.LayerNorm(width)
        self.embed_out = nn.Linear(width, VOCAB, bias=False)

    def forward(self, ids):
        h = self.embed_in(ids)
        for layer in self.layers:
            h = layer(h)
        return self.embed_out(self.final_layer_norm(h))


class ContextPythia(nn.Module):
    def __init__(self, embed, width, layers, heads, inter):
        super().__init__()
        self.width = width
        self.embed_in = nn.Embedding(VOCAB, embed)
        self.embed_norm = nn.LayerNorm(embed)
        self.fnn = nn.Linear(width + embed, width)
        self.context_norm = nn.LayerNorm(width)
        self.layers = nn.ModuleList(Layer(width, heads, inter) for _ in range(layers))
        self.final_layer_norm = nn.LayerNorm(width)
        self.embed_out = nn.Linear(width, VOCAB, bias=False)
        for p in list(self.fnn.parameters()) + list(self.context_norm.parameters()):
            p.requires_grad_(False)  # Phase 2: the ContextBlock is frozen

    def forward(self, ids):
        e = self.embed_norm(self.embed_in(ids))
        c = torch.zeros(ids.shape[0], self.width)
        contexts = []
        for t in range(ids.shape[1]):  # c_t = LN(c_{t-1} + GELU(W [c_{t-1}; e_t] + b))
            c = self.context_norm(c + F.gelu(self.fnn(torch.cat([c, e[:, t]], -1))))
            contexts.append(c)
        h = torch.stack(contexts, 1)
        for layer in self.layers:
            h = layer(h)
        return self.embed_out(self.final_layer_norm(h))


def real_tokens(data_dir):
    caches = sorted(glob.glob(os.path.join(data_dir, "cache", "brown-*.tokens")))
    if not caches:
        raise SystemExit("no Brown token cache under %s/cache: run scripts/setup.sh and "
                         "'context-pythia data prepare' first" % data_dir)
    return np.fromfile(caches[0], dtype="<u2").astype(np.int64)


def bench(model, tokens, batch, seq, steps, warmup):
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4,
                            weight_decay=0.01)
    width, offset = seq + 1, 0
    model.train()

    def step():
        nonlocal offset
        ids = np.take(tokens, np.arange(offset, offset + batch * width), mode="wrap")
        offset = (offset + batch * width) % len(tokens)
        x = torch.from_numpy(ids).view(batch, width)
        opt.zero_grad()
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), x[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    loss.item()
    seconds = time.perf_counter() - t0
    return {"train_tokens_per_second": steps * batch * seq / seconds,
            "seconds_per_step": seconds / steps, "last_loss": loss.item()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=["tiny", "70m"], default="70m")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq-length", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=os.environ.get(
        "CP_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "data")))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    tokens = real_tokens(a.data_dir)
    p = PRESETS[a.size]
    out = {"what": "eager PyTorch reference (tests/benchmarks/bench_eager_reference.py)",
           "torch": torch.__version__, "threads": a.threads, "batch": a.batch,
           "seq_length": a.seq_length, "models": {}}
    out["models"]["pythia"] = bench(Pythia(**p["pythia"]), tokens, a.batch, a.seq_length,
                                    a.steps, a.warmup)
    out["models"]["context-pythia"] = bench(ContextPythia(**p["context-pythia"]), tokens, a.batch,
                                            a.seq_length, a.steps, a.warmup)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
