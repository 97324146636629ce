"""Causal sliding-window attention block, PyTorch reference of models/window_attention_block.cpp.
The hybrid's "mostly SSM, some attention": each step attends to its own and the previous
window - 1 steps' keys, which a fixed ring holds, so a step costs O(window), not O(time).

    u [d_model] -> qkv_proj -> q, k, v [H, Dh]
    k, v written into the ring at `cursor[0]`; the ring holds min(steps, window) entries
    out[h] = softmax(q[h] . k[h, j] / sqrt(Dh) over ring entries j) . v[h, j]
    out = out_proj(out)
No positional encoding: the SSM layers around it carry the order. Per stream state: keys and
values [window, H, Dh], and cursor [2] = (next slot to write, entries filled), two integers
below 2^24 kept as floats so that a stream's whole state is one float array.
"""
import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from init import uniform_


@dataclass
class AttentionConfig:
    d_model: int
    n_heads: int = 2
    head_dim: int = 16
    window: int = 32

    @property
    def inner(self) -> int:
        return self.n_heads * self.head_dim


class WindowAttentionBlock(nn.Module):
    def __init__(self, cfg: AttentionConfig):
        super().__init__()
        self.cfg = cfg
        self.qkv_proj = nn.Linear(cfg.d_model, 3 * cfg.inner, bias=False)
        self.out_proj = nn.Linear(cfg.inner, cfg.d_model, bias=False)
        self.reset_parameters()

    def reset_parameters(self, generator: Optional[torch.Generator] = None):
        uniform_(self.qkv_proj.weight, -self.cfg.d_model ** -0.5, self.cfg.d_model ** -0.5, generator)
        uniform_(self.out_proj.weight, -self.cfg.inner ** -0.5, self.cfg.inner ** -0.5, generator)

    def initial_state(self, dtype=torch.float32, device=None) -> Dict[str, torch.Tensor]:
        cfg = self.cfg
        return {"keys": torch.zeros(cfg.window, cfg.n_heads, cfg.head_dim, dtype=dtype, device=device),
                "values": torch.zeros(cfg.window, cfg.n_heads, cfg.head_dim, dtype=dtype, device=device),
                "cursor": torch.zeros(2, dtype=dtype, device=device)}

    def _history(self, state):
        """The ring's entries, oldest first."""
        W = self.cfg.window
        slot, filled = int(state["cursor"][0]), int(state["cursor"][1])
        order = [(slot - filled + i) % W for i in range(filled)]
        return state["keys"][order], state["values"][order]

    def forward(self, u: torch.Tensor, state: Dict[str, torch.Tensor], chunk: int = 64,
                naive: bool = False) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """u [T, d_model] -> [T, d_model]. The chunked path attends over history + chunk with a
        band mask; the naive path writes the ring and attends one step at a time."""
        cfg = self.cfg
        T = u.shape[0]
        q, k, v = self.qkv_proj(u).reshape(T, 3, cfg.n_heads, cfg.head_dim).unbind(1)
        scale = 1.0 / math.sqrt(cfg.head_dim)
        keys, values = state["keys"].clone(), state["values"].clone()
        slot, filled = int(state["cursor"][0]), int(state["cursor"][1])
        if naive:
            outs = []
            for t in range(T):
                keys[slot], values[slot] = k[t], v[t]
                slot, filled = (slot + 1) % cfg.window, min(filled + 1, cfg.window)
                live = [(slot - filled + i) % cfg.window for i in range(filled)]
                scores = torch.einsum("hd,jhd->hj", q[t], keys[live]) * scale
                outs.append(torch.einsum("hj,jhd->hd", torch.softmax(scores, -1), values[live]))
            out = torch.stack(outs)
        else:
            old_k, old_v = self._history(state)
            all_k, all_v = torch.cat([old_k, k]), torch.cat([old_v, v])  # [filled + T, H, Dh]
            position = torch.arange(filled + T, device=u.device)
            row = position[filled:, None]
            visible = (position[None, :] <= row) & (position[None, :] > row - cfg.window)
            scores = torch.einsum("thd,jhd->thj", q, all_k) * scale
            scores = scores.masked_fill(~visible[:, None, :], float("-inf"))
            out = torch.einsum("thj,jhd->thd", torch.softmax(scores, -1), all_v)
            for t in range(max(0, T - cfg.window), T):
                keys[(slot + t) % cfg.window], values[(slot + t) % cfg.window] = k[t], v[t]
            slot, filled = (slot + T) % cfg.window, min(filled + T, cfg.window)
        cursor = torch.tensor([slot, filled], dtype=u.dtype, device=u.device)
        return self.out_proj(out.reshape(T, cfg.inner)), {"keys": keys, "values": values,
                                                          "cursor": cursor}

    def step(self, u: torch.Tensor, state: Dict[str, torch.Tensor]):
        out, new_state = self.forward(u[None, :], state, naive=True)
        return out[0], new_state

    def named_tensors(self, prefix: str) -> Dict[str, torch.Tensor]:
        return {prefix + "qkv_proj.weight": self.qkv_proj.weight,
                prefix + "out_proj.weight": self.out_proj.weight}
