"""Mamba-1 (S6, arXiv 2312.00752) block, PyTorch reference of models/mamba1_block.cpp.

    u [d_model] -> in_proj -> x [d_inner], z [d_inner]
    x -> causal depthwise conv (d_conv taps) + bias -> SiLU
    x_proj(x) -> dt_low [dt_rank], B [N], C [N];  dt = softplus(dt_proj(dt_low) + dt_proj.bias)
    A = -exp(A_log) [d_inner, N]: a decay per state element
    ssm[i, n] = exp(dt[i] A[i, n]) ssm[i, n] + dt[i] B[n] x[i];  y[i] = ssm[i] . C + D[i] x[i]
    out = out_proj(y * SiLU(z))
Per stream state: ssm [d_inner, N] and conv [d_conv - 1, d_inner] (the last inputs, oldest first).
"""
import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from init import dt_bias_, uniform_


@dataclass
class Mamba1Config:
    d_model: int
    d_state: int = 16
    expand: int = 2
    d_conv: int = 4
    dt_rank: int = 0   # 0: ceil(d_model / 16), as in the paper

    @property
    def d_inner(self) -> int:
        return self.expand * self.d_model

    @property
    def rank(self) -> int:
        return self.dt_rank or math.ceil(self.d_model / 16)


def selective_scan_naive(x, dt, A, B, C, state):
    """x, dt [T, D]; A [D, N]; B, C [T, N]; state [D, N] -> y [T, D], state."""
    ys = []
    for t in range(x.shape[0]):
        state = torch.exp(dt[t][:, None] * A) * state + (dt[t] * x[t])[:, None] * B[t][None, :]
        ys.append(state @ C[t])
    return torch.stack(ys), state


def selective_scan_chunked(x, dt, A, B, C, state, chunk: int = 64):
    """The same recurrence a chunk at a time: inside a chunk, every step's contribution to every
    later step is weighted by the product of the decays between them, per state element."""
    ys = []
    T = x.shape[0]
    for start in range(0, T, chunk):
        stop = min(start + chunk, T)
        L = stop - start
        log_decay = torch.cumsum(dt[start:stop, :, None] * A, dim=0)  # [L, D, N]
        segment = log_decay[:, None] - log_decay[None, :]              # [L, L, D, N]
        causal = torch.ones(L, L, dtype=torch.bool, device=x.device).tril()
        weights = torch.exp(segment.masked_fill(~causal[:, :, None, None], float("-inf")))
        u = dt[start:stop] * x[start:stop]                             # [L, D]
        Bc, Cc = B[start:stop], C[start:stop]
        y_inside = torch.einsum("ijdn,jd,jn,in->id", weights, u, Bc, Cc)
        y_carried = torch.einsum("idn,dn,in->id", torch.exp(log_decay), state, Cc)
        ys.append(y_inside + y_carried)
        state = torch.exp(log_decay[-1]) * state + \
            torch.einsum("jdn,jd,jn->dn", torch.exp(log_decay[-1][None] - log_decay), u, Bc)
    return torch.cat(ys), state


class Mamba1Block(nn.Module):
    def __init__(self, cfg: Mamba1Config):
        super().__init__()
        self.cfg = cfg
        D, N = cfg.d_inner, cfg.d_state
        self.in_proj = nn.Linear(cfg.d_model, 2 * D, bias=False)
        self.conv_weight = nn.Parameter(torch.empty(D, cfg.d_conv))
        self.conv_bias = nn.Parameter(torch.empty(D))
        self.x_proj = nn.Linear(D, cfg.rank + 2 * N, bias=False)
        self.dt_proj = nn.Linear(cfg.rank, D)
        self.A_log = nn.Parameter(torch.empty(D, N))
        self.D = nn.Parameter(torch.empty(D))
        self.out_proj = nn.Linear(D, cfg.d_model, bias=False)
        self.reset_parameters()

    def reset_parameters(self, generator: Optional[torch.Generator] = None):
        cfg = self.cfg
        uniform_(self.in_proj.weight, -cfg.d_model ** -0.5, cfg.d_model ** -0.5, generator)
        uniform_(self.conv_weight, -cfg.d_conv ** -0.5, cfg.d_conv ** -0.5, generator)
        uniform_(self.conv_bias, -0.1, 0.1, generator)
        uniform_(self.x_proj.weight, -cfg.d_inner ** -0.5, cfg.d_inner ** -0.5, generator)
        uniform_(self.dt_proj.weight, -cfg.rank ** -0.5, cfg.rank ** -0.5, generator)
        dt_bias_(self.dt_proj.bias, generator)
        # S4D-real: A[i, n] = n + 1, jittered so that no two channels decay alike.
        with torch.no_grad():
            a = torch.arange(1, cfg.d_state + 1, dtype=self.A_log.dtype).repeat(cfg.d_inner, 1)
            jitter = torch.rand(a.shape, generator=generator, dtype=a.dtype) * 0.5
            self.A_log.copy_(torch.log(a + jitter))
        uniform_(self.D, 0.5, 1.5, generator)
        uniform_(self.out_proj.weight, -cfg.d_inner ** -0.5, cfg.d_inner ** -0.5, generator)

    def initial_state(self, dtype=torch.float32, device=None) -> Dict[str, torch.Tensor]:
        cfg = self.cfg
        return {"ssm": torch.zeros(cfg.d_inner, cfg.d_state, dtype=dtype, device=device),
                "conv": torch.zeros(cfg.d_conv - 1, cfg.d_inner, dtype=dtype, device=device)}

    def forward(self, u: torch.Tensor, state: Dict[str, torch.Tensor], chunk: int = 64,
                naive: bool = False) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        cfg = self.cfg
        T = u.shape[0]
        x, z = torch.split(self.in_proj(u), [cfg.d_inner, cfg.d_inner], dim=-1)
        window = torch.cat([state["conv"], x], dim=0)                  # [d_conv - 1 + T, D]
        conv = self.conv_bias.expand(T, -1).clone()
        for k in range(cfg.d_conv):
            conv = conv + window[k:k + T] * self.conv_weight[:, k]
        conv_state = window[T:]
        x = F.silu(conv)
        dt_low, B, C = torch.split(self.x_proj(x), [cfg.rank, cfg.d_state, cfg.d_state], dim=-1)
        dt = F.softplus(self.dt_proj(dt_low))
        A = -torch.exp(self.A_log)
        if naive:
            y, ssm = selective_scan_naive(x, dt, A, B, C, state["ssm"])
        else:
            y, ssm = selective_scan_chunked(x, dt, A, B, C, state["ssm"], chunk=chunk)
        y = (y + self.D * x) * F.silu(z)
        return self.out_proj(y), {"ssm": ssm, "conv": conv_state}

    def step(self, u: torch.Tensor, state: Dict[str, torch.Tensor]):
        out, new_state = self.forward(u[None, :], state, naive=True)
        return out[0], new_state

    def named_tensors(self, prefix: str) -> Dict[str, torch.Tensor]:
        return {prefix + "in_proj.weight": self.in_proj.weight,
                prefix + "conv1d.weight": self.conv_weight,
                prefix + "conv1d.bias": self.conv_bias,
                prefix + "x_proj.weight": self.x_proj.weight,
                prefix + "dt_proj.weight": self.dt_proj.weight,
                prefix + "dt_proj.bias": self.dt_proj.bias,
                prefix + "A_log": self.A_log,
                prefix + "D": self.D,
                prefix + "out_proj.weight": self.out_proj.weight}
