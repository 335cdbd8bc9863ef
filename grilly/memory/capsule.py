"""CapsuleTransformer: a transformer encoder whose tokens read from and write to an episodic capsule memory tagged
with place and time context (hippocampus-inspired).

Architecture, for tokens ``x_1 .. x_T`` of an episode at place ``p`` (a 2-D position) starting at clock ``t0``:

    time code      tau_t = time_cells(t0 + t)                (log-spaced time cells, ``n_time``)
    place code     pi    = place_cells(p)                    (Gaussian place fields on a lattice, ``n_place``)
    embedding      h_t   = E[x_t] + tau_t W_time
    each layer     h <- h + SelfAttn(LN(h))                  (causal multi-head attention)
                   h <- h + MemRead(LN(h), M)               (attention over the capsules in memory)
                   h <- h + FFN(LN(h))                       (GELU MLP)
    output         logits_t = LN(h_t) W_out

Memory read: queries ``q_t = LN(h_t) W_mq + pi W_place`` (the place term makes capsules stored at the same place
match), scores ``s_ti = <q_t, k_i> / sqrt(d_capsule)`` over valid capsules, ``r_t = softmax(s_t) V W_mo``.

Memory write, after the last layer: token t writes one capsule binding it to its successor (temporal contiguity,
as in sequence memory): ``k_t = LN(h_t) W_ck + pi W_place + tau_t W_tk`` and ``v_t = LN(h_{t+1}) W_cv``, for
t = 1 .. T-1, into the next slots of a ring buffer of ``memory_slots`` capsules (the oldest capsule is evicted
first). Everything is grilly ops, so ``grilly.grad`` trains the model end to end, through the memory written by
an earlier call and read by a later one.

>>> import grilly.numpy as gnp
>>> model = CapsuleTransformer(CapsuleConfig(vocab_size=8, d_model=16, n_heads=2, memory_slots=8))
>>> memory = model.init_memory(batch=1)
>>> logits, memory = model(gnp.asarray([[1, 2, 3]]), memory)
>>> logits.shape, int(memory.valid.sum())
((1, 3, 8), 2)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

import grilly.functional as F
import grilly.numpy as gnp
import grilly.random as gr
from grilly import tree
from grilly.core.array import Array
from grilly.memory.cells import place_cell_centers, place_cells, time_cells
from grilly.memory.kv import NEG_LARGE


@dataclasses.dataclass(frozen=True)
class CapsuleConfig:
    """Sizes of a :class:`CapsuleTransformer`."""

    vocab_size: int = 32
    d_model: int = 32
    n_heads: int = 2
    n_layers: int = 1
    d_ff: int = 64
    d_capsule: int = 32      # key size of a capsule (values have d_model entries)
    memory_slots: int = 64   # capsules per sequence in the ring buffer
    place_grid: int = 4      # place cells on a place_grid x place_grid lattice over [0, 1]^2
    n_time: int = 8          # time cells, preferred times log-spaced in [1, t_max]
    t_max: float = 64.0
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class CapsuleMemory:
    """Per-sequence capsule store: keys (B, S, d_capsule), values (B, S, d_model), valid (B, S); ``pointer`` is
    the next slot and ``clock`` the time already elapsed (both static)."""

    keys: Array
    values: Array
    valid: Array
    pointer: int = 0
    clock: int = 0


tree.register_node(CapsuleMemory, lambda m: ((m.keys, m.values, m.valid), (m.pointer, m.clock)),
                   lambda aux, ch: CapsuleMemory(*ch, *aux))


def layer_norm(x, params: dict) -> Array:
    """Layer norm over the last axis with gain ``params["g"]`` and bias ``params["b"]``."""
    return F.layer_norm(x, weight=params["g"], bias=params["b"])


def _attend(q, k, v, mask) -> Array:
    scores = gnp.matmul(q, gnp.swapaxes(k, -1, -2)) / math.sqrt(q.shape[-1])
    return gnp.matmul(F.softmax(gnp.where(mask, scores, NEG_LARGE)), v)


class CapsuleTransformer:
    """The model (a pytree: ``params`` are the leaves, ``config`` is static). See the module docstring."""

    def __init__(self, config: CapsuleConfig | dict | None = None, params: dict | None = None):
        self.config = CapsuleConfig(**config) if isinstance(config, dict) else (config or CapsuleConfig())
        self.params = params if params is not None else self.init_params(self.config)
        self._centers = place_cell_centers(self.config.place_grid)

    # ---- parameters ----------------------------------------------------------------------------------------
    @staticmethod
    def init_params(cfg: CapsuleConfig) -> dict:
        keys = iter(gr.split(gr.PRNGKey(cfg.seed), 64))
        d, dc, n_place = cfg.d_model, cfg.d_capsule, cfg.place_grid ** 2

        def dense(n_in, n_out):
            return gr.normal(next(keys), (n_in, n_out)) * (1.0 / math.sqrt(n_in))

        def norm():
            return {"g": gnp.ones((d,)), "b": gnp.zeros((d,))}

        layers = [{
            "ln_attn": norm(), "wq": dense(d, d), "wk": dense(d, d), "wv": dense(d, d), "wo": dense(d, d),
            "ln_mem": norm(), "mem_q": dense(d, dc), "mem_out": dense(d, d),
            "ln_ff": norm(), "w1": dense(d, cfg.d_ff), "b1": gnp.zeros((cfg.d_ff,)), "w2": dense(cfg.d_ff, d),
            "b2": gnp.zeros((d,)),
        } for _ in range(cfg.n_layers)]
        return {
            "embed": gr.normal(next(keys), (cfg.vocab_size, d)), "time": dense(cfg.n_time, d), "layers": layers,
            "ln_write": norm(), "cap_key": dense(d, dc), "cap_value": dense(d, d), "place": dense(n_place, dc),
            "time_key": dense(cfg.n_time, dc), "ln_out": norm(), "out": dense(d, cfg.vocab_size),
        }

    def init_memory(self, batch: int) -> CapsuleMemory:
        """An empty memory for ``batch`` sequences."""
        cfg = self.config
        return CapsuleMemory(gnp.zeros((batch, cfg.memory_slots, cfg.d_capsule)),
                             gnp.zeros((batch, cfg.memory_slots, cfg.d_model)),
                             gnp.zeros((batch, cfg.memory_slots)), 0, 0)

    # ---- context codes -------------------------------------------------------------------------------------
    def place_code(self, place, batch: int) -> Array:
        """Place-cell rates (B, n_place) of each sequence's position (B, 2); the arena's centre by default."""
        place = gnp.full((batch, 2), 0.5) if place is None else gnp.asarray(place, gnp.float32)
        return place_cells(place, self._centers, 1.0 / max(self.config.place_grid - 1, 1))

    def time_code(self, clock: int, length: int) -> Array:
        """Time-cell rates (T, n_time) at times ``clock + 1 .. clock + T``."""
        t = gnp.arange(clock + 1, clock + length + 1, dtype=gnp.float32)
        return time_cells(t, self.config.n_time, 1.0, self.config.t_max)

    # ---- forward -------------------------------------------------------------------------------------------
    def _self_attention(self, lp, x) -> Array:
        b, t, d = x.shape
        nh = self.config.n_heads

        def heads(w):
            return gnp.transpose(gnp.reshape(gnp.matmul(x, w), (b, t, nh, d // nh)), (0, 2, 1, 3))

        causal = gnp.asarray(np.tril(np.ones((t, t), bool)))
        out = _attend(heads(lp["wq"]), heads(lp["wk"]), heads(lp["wv"]), causal)
        return gnp.matmul(gnp.reshape(gnp.transpose(out, (0, 2, 1, 3)), (b, t, d)), lp["wo"])

    def _memory_read(self, lp, x, memory: CapsuleMemory, place_key) -> Array:
        q = gnp.matmul(x, lp["mem_q"]) + place_key[:, None, :]
        r = _attend(q, memory.keys, memory.values, (memory.valid > 0)[:, None, :])
        return gnp.matmul(r, lp["mem_out"])

    def __call__(self, tokens, memory: CapsuleMemory | None = None, place=None,
                 write: bool = True) -> tuple[Array, CapsuleMemory]:
        """Logits (B, T, vocab) for integer ``tokens`` (B, T), and the memory after this episode's writes."""
        p = self.params
        tokens = gnp.asarray(tokens)
        b, t = tokens.shape
        memory = self.init_memory(b) if memory is None else memory
        tau = self.time_code(memory.clock, t)
        place_key = gnp.matmul(self.place_code(place, b), p["place"])  # (B, d_capsule)
        h = gnp.take(p["embed"], tokens, axis=0) + gnp.matmul(tau, p["time"])
        has_memory = memory.pointer > 0 or memory.clock > 0
        for lp in p["layers"]:
            h = h + self._self_attention(lp, layer_norm(h, lp["ln_attn"]))
            if has_memory:
                h = h + self._memory_read(lp, layer_norm(h, lp["ln_mem"]), memory, place_key)
            hf = layer_norm(h, lp["ln_ff"])
            h = h + gnp.matmul(F.gelu(gnp.matmul(hf, lp["w1"]) + lp["b1"], approximate=True), lp["w2"]) + lp["b2"]
        logits = gnp.matmul(layer_norm(h, p["ln_out"]), p["out"])
        if write and t > 1:
            memory = self.write(memory, h, tau, place_key)
        else:
            memory = dataclasses.replace(memory, clock=memory.clock + t)
        return logits, memory

    def write(self, memory: CapsuleMemory, h, tau, place_key) -> CapsuleMemory:
        """Store capsules ``(k_t, v_t)`` binding token t to token t+1, t = 1 .. T-1 (ring order)."""
        p, cfg = self.params, self.config
        hw = layer_norm(h, p["ln_write"])
        t = h.shape[1]
        keys = gnp.matmul(hw[:, :-1], p["cap_key"]) + place_key[:, None, :] + gnp.matmul(tau[:-1], p["time_key"])
        values = gnp.matmul(hw[:, 1:], p["cap_value"])
        n = min(t - 1, cfg.memory_slots)  # more capsules than slots: only the newest fit
        slots = (memory.pointer + np.arange(t - 1 - n, t - 1)) % cfg.memory_slots
        return CapsuleMemory(memory.keys.at[:, slots].set(keys[:, -n:]),
                             memory.values.at[:, slots].set(values[:, -n:]),
                             memory.valid.at[:, slots].set(1.0),
                             (memory.pointer + t - 1) % cfg.memory_slots, memory.clock + t)


tree.register_node(CapsuleTransformer, lambda m: ((m.params,), m.config),
                   lambda cfg, ch: CapsuleTransformer(cfg, ch[0]))
