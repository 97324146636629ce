"""Mamba-2 block, PyTorch reference of models/mamba2_block.cpp (same tensor names and maths).

    u [d_model] -> in_proj -> z [d_inner], xBC [conv_dim], dt [n_heads]
    xBC -> causal depthwise conv (d_conv taps) + bias -> SiLU -> x [H, P], B, C [G, N]
    dt = softplus(dt + dt_bias); A = -exp(A_log)
    y = SSD scan (ssd_scan.py) + D * x
    y = RMSNorm(y * SiLU(z)) per group of d_inner / n_groups channels, times norm.weight
    out = out_proj(y)
Per stream state: ssm [H, P, N] and conv [d_conv - 1, conv_dim] (the last inputs, oldest first).
"""
import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from init import a_log_per_head_, dt_bias_, uniform_
from ssd_scan import ssd_scan_chunked, ssd_scan_naive


@dataclass
class Mamba2Config:
    d_model: int
    d_state: int = 16
    head_dim: int = 16
    expand: int = 2
    d_conv: int = 4
    n_groups: int = 1
    norm_eps: float = 1e-5

    @property
    def d_inner(self) -> int:
        return self.expand * self.d_model

    @property
    def n_heads(self) -> int:
        return self.d_inner // self.head_dim

    @property
    def conv_dim(self) -> int:
        return self.d_inner + 2 * self.n_groups * self.d_state


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float, group: Optional[int] = None):
    """RMSNorm over the last dimension, or over consecutive groups of `group` channels."""
    shape = x.shape
    if group is not None:
        x = x.reshape(*shape[:-1], shape[-1] // group, group)
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return x.reshape(shape) * weight


class Mamba2Block(nn.Module):
    def __init__(self, cfg: Mamba2Config):
        super().__init__()
        self.cfg = cfg
        H, G, N = cfg.n_heads, cfg.n_groups, cfg.d_state
        self.in_proj = nn.Linear(cfg.d_model, 2 * cfg.d_inner + 2 * G * N + H, bias=False)
        self.conv_weight = nn.Parameter(torch.empty(cfg.conv_dim, cfg.d_conv))
        self.conv_bias = nn.Parameter(torch.empty(cfg.conv_dim))
        self.dt_bias = nn.Parameter(torch.empty(H))
        self.A_log = nn.Parameter(torch.empty(H))
        self.D = nn.Parameter(torch.empty(H))
        self.norm_weight = nn.Parameter(torch.empty(cfg.d_inner))
        self.out_proj = nn.Linear(cfg.d_inner, cfg.d_model, bias=False)
        self.reset_parameters()

    def reset_parameters(self, generator: Optional[torch.Generator] = None):
        cfg = self.cfg
        bound = 1.0 / math.sqrt(cfg.d_model)
        uniform_(self.in_proj.weight, -bound, bound, generator)
        uniform_(self.out_proj.weight, -1.0 / math.sqrt(cfg.d_inner), 1.0 / math.sqrt(cfg.d_inner),
                 generator)
        uniform_(self.conv_weight, -1.0 / math.sqrt(cfg.d_conv), 1.0 / math.sqrt(cfg.d_conv),
                 generator)
        uniform_(self.conv_bias, -0.1, 0.1, generator)
        dt_bias_(self.dt_bias, generator)
        a_log_per_head_(self.A_log, generator)
        uniform_(self.D, 0.5, 1.5, generator)
        uniform_(self.norm_weight, 0.8, 1.2, generator)

    # -- state ---------------------------------------------------------------------------------
    def initial_state(self, dtype=torch.float32, device=None) -> Dict[str, torch.Tensor]:
        cfg = self.cfg
        return {"ssm": torch.zeros(cfg.n_heads, cfg.head_dim, cfg.d_state, dtype=dtype, device=device),
                "conv": torch.zeros(cfg.d_conv - 1, cfg.conv_dim, dtype=dtype, device=device)}

    # -- shared pieces ---------------------------------------------------------------------------
    def _split(self, zxbcdt):
        cfg = self.cfg
        z, xBC, dt = torch.split(zxbcdt, [cfg.d_inner, cfg.conv_dim, cfg.n_heads], dim=-1)
        return z, xBC, dt

    def _conv(self, xBC: torch.Tensor, conv_state: torch.Tensor):
        """Causal depthwise conv over [..., T, conv_dim] with the previous d_conv-1 inputs
        prepended."""
        cfg = self.cfg
        lead = xBC.shape[:-2]
        window = torch.cat([conv_state.expand(*lead, *conv_state.shape[-2:]), xBC], dim=-2)
        T = xBC.shape[-2]
        out = self.conv_bias.expand_as(xBC).clone()
        for k in range(cfg.d_conv):
            out = out + window[..., k:k + T, :] * self.conv_weight[:, k]
        new_state = window[..., T:, :] if cfg.d_conv > 1 else conv_state
        return F.silu(out), new_state

    def _scan_inputs(self, xBC_act, dt_raw):
        cfg = self.cfg
        x, B, C = torch.split(xBC_act, [cfg.d_inner, cfg.n_groups * cfg.d_state,
                                        cfg.n_groups * cfg.d_state], dim=-1)
        x = x.reshape(*x.shape[:-1], cfg.n_heads, cfg.head_dim)
        B = B.reshape(*B.shape[:-1], cfg.n_groups, cfg.d_state)
        C = C.reshape(*C.shape[:-1], cfg.n_groups, cfg.d_state)
        dt = F.softplus(dt_raw + self.dt_bias)
        A = -torch.exp(self.A_log)
        return x, dt, A, B, C

    def _output(self, y, x, z):
        cfg = self.cfg
        y = y + self.D[:, None] * x
        y = y.reshape(*y.shape[:-2], cfg.d_inner)
        y = rms_norm(y * F.silu(z), self.norm_weight, cfg.norm_eps, cfg.d_inner // cfg.n_groups)
        return self.out_proj(y)

    # -- entry points ------------------------------------------------------------------------------
    def forward(self, u: torch.Tensor, state: Dict[str, torch.Tensor], chunk: int = 64,
                naive: bool = False) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """u [..., T, d_model] -> [..., T, d_model]; returns the state after the last step. Any
        leading batch dimensions run as independent streams (training batches); a state without
        them starts every stream."""
        z, xBC, dt_raw = self._split(self.in_proj(u))
        xBC_act, conv_state = self._conv(xBC, state["conv"])
        x, dt, A, B, C = self._scan_inputs(xBC_act, dt_raw)
        scan = ssd_scan_naive if naive else (lambda *a: ssd_scan_chunked(*a, chunk=chunk))
        y, ssm_state = scan(x, dt, A, B, C, state["ssm"])
        return self._output(y, x, z), {"ssm": ssm_state, "conv": conv_state}

    def step(self, u: torch.Tensor, state: Dict[str, torch.Tensor]):
        """u [d_model] -> [d_model]: one step, O(1) in the sequence length."""
        out, new_state = self.forward(u[None, :], state, naive=True)
        return out[0], new_state

    def named_tensors(self, prefix: str) -> Dict[str, torch.Tensor]:
        """The tensors under the names of docs/model_format.md."""
        return {prefix + "in_proj.weight": self.in_proj.weight,
                prefix + "conv1d.weight": self.conv_weight,
                prefix + "conv1d.bias": self.conv_bias,
                prefix + "dt_bias": self.dt_bias,
                prefix + "A_log": self.A_log,
                prefix + "D": self.D,
                prefix + "norm.weight": self.norm_weight,
                prefix + "out_proj.weight": self.out_proj.weight}
