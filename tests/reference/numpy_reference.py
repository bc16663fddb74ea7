#!/usr/bin/python3
"""Independent re-implementation of Pythia (GPT-NeoX) and Context-Pythia in NumPy, written from
MODEL_SPEC.md alone (no code shared with the C++ models), for numerical checks.

usage: numpy_reference.py CHECKPOINT.safetensors ID,ID,ID,...
prints {"logprobs": [...]} where logprobs[i] = ln p(ids[i+1] | ids[0..i]), computed in float64.
"""
import json
import math
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    dtypes = {"F32": np.float32, "F16": np.float16, "F64": np.float64}
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        buf = raw[8 + n + begin:8 + n + end]
        if e["dtype"] == "BF16":
            bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=np.dtype(dtypes[e["dtype"]]).newbyteorder("<"))
        tensors[name] = arr.astype(np.float64).reshape(e["shape"])
    return tensors, meta


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):  # exact, erf form
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def linear(x, t, prefix, bias=True):
    y = x @ t[prefix + ".weight"].T  # weights are [out, in]
    return y + t[prefix + ".bias"] if bias else y


def rotary(x, n_rot, base):
    # x: (heads, T, head_dim); rotate the first n_rot dims by position.
    if n_rot == 0:
        return x
    T = x.shape[1]
    inv_freq = 1.0 / base ** (np.arange(0, n_rot, 2) / n_rot)
    angles = np.outer(np.arange(T), inv_freq)
    emb = np.concatenate([angles, angles], -1)
    cos, sin = np.cos(emb), np.sin(emb)
    r, p = x[..., :n_rot], x[..., n_rot:]
    half = n_rot // 2
    rot_half = np.concatenate([-r[..., half:], r[..., :half]], -1)
    return np.concatenate([r * cos + rot_half * sin, p], -1)


def neox_layer(h, t, p, cfg):
    T, width = h.shape
    nh = cfg["heads"]
    hd = width // nh
    n_rot = int(hd * cfg["rotary_pct"])
    eps = cfg["layer_norm_eps"]
    a_in = layer_norm(h, t[p + "input_layernorm.weight"], t[p + "input_layernorm.bias"], eps)
    qkv = linear(a_in, t, p + "attention.query_key_value").reshape(T, nh, 3 * hd)
    q = qkv[..., :hd].transpose(1, 0, 2)
    k = qkv[..., hd:2 * hd].transpose(1, 0, 2)
    v = qkv[..., 2 * hd:].transpose(1, 0, 2)
    q, k = rotary(q, n_rot, cfg["rotary_base"]), rotary(k, n_rot, cfg["rotary_base"])
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
    scores = np.where(np.triu(np.ones((T, T), dtype=bool), 1), -np.inf, scores)
    scores = scores - scores.max(-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(-1, keepdims=True)
    attn = (probs @ v).transpose(1, 0, 2).reshape(T, width)
    attn = linear(attn, t, p + "attention.dense")
    m_in = layer_norm(h, t[p + "post_attention_layernorm.weight"], t[p + "post_attention_layernorm.bias"], eps)
    mlp = linear(gelu(linear(m_in, t, p + "mlp.dense_h_to_4h")), t, p + "mlp.dense_4h_to_h")
    return h + attn + mlp  # parallel residual


def logits_pythia(ids, t, cfg):
    h = t["gpt_neox.embed_in.weight"][ids]
    for i in range(cfg["layers"]):
        h = neox_layer(h, t, "gpt_neox.layers.%d." % i, cfg)
    h = layer_norm(h, t["gpt_neox.final_layer_norm.weight"], t["gpt_neox.final_layer_norm.bias"], cfg["layer_norm_eps"])
    return h @ t["embed_out.weight"].T


def logits_context_pythia(ids, t, cfg):
    eps = cfg["layer_norm_eps"]
    e = layer_norm(t["embed_in.weight"][ids], t["embed_norm.weight"], t["embed_norm.bias"], eps)
    c = np.zeros(cfg["context_dim"])
    contexts = []
    for tok in range(len(ids)):  # c_t = LN(c_{t-1} + GELU(W [c_{t-1}; e_t] + b))
        delta = gelu(linear(np.concatenate([c, e[tok]]), t, "context_block.layer.fnn.fnn.0"))
        c = layer_norm(c + delta, t["context_block.layer.context_norm.weight"],
                       t["context_block.layer.context_norm.bias"], eps)
        contexts.append(c)
    h = np.stack(contexts)
    for i in range(cfg["layers"]):
        h = neox_layer(h, t, "layers.%d." % i, cfg)
    h = layer_norm(h, t["final_layer_norm.weight"], t["final_layer_norm.bias"], eps)
    return h @ t["embed_out.weight"].T


def main():
    tensors, meta = read_safetensors(sys.argv[1])
    cfg = json.loads(meta["cp_config"])
    ids = [int(x) for x in sys.argv[2].split(",")]
    fn = logits_pythia if cfg["architecture"] == "pythia" else logits_context_pythia
    logits = fn(np.array(ids), tensors, cfg)
    m = logits.max(-1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))
    print(json.dumps({"logprobs": [float(logp[i, ids[i + 1]]) for i in range(len(ids) - 1)]}))


if __name__ == "__main__":
    main()
