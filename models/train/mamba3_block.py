"""Mamba-3 block (arXiv 2603.15569), PyTorch reference of models/mamba3_block.cpp.

    u [d_model] -> in_proj -> z [d_inner], x [d_inner], B, C [R', G, N], dt [H], lam [H], theta [N/2]
    dt = softplus(dt + dt_bias), A = -exp(A_log), lam = sigmoid(lam)
    B = RMSNorm(B) * B_norm.weight, then per head + B_bias[h]   (C likewise)
    angle[h, k] = (angle[h, k] + dt[h] * theta[k]) mod 2 pi; B and C of head h are rotated pair
      by pair, (2k, 2k+1) by angle[h, k]: the complex-valued state written as real rotations
    xr[h, r, p] = x[h, p] * mimo_x[h, r, p]              (SISO: xr = x, R' = 1)
    trapezoidal scan (mamba3_scan.py): y[h, r, p], then + D[h] * xr
    y[h, p] = sum_r mimo_o[h, r, p] * y[h, r, p]          (SISO: y = y[h, 0])
    y = RMSNorm(y * SiLU(z)) per group of d_inner / n_groups channels, times norm.weight
    out = out_proj(y)
No short convolution: the trapezoidal rule's two-tap input already mixes neighbouring steps.
Per stream state: ssm [H, P, N], prev_x [H, P] (before mimo_x), prev_b [H, R', N] (as used,
rotated), angle [H, N/2] kept in [0, 2 pi) so a float32 angle never loses its precision, and
angle_residual [H, N/2]: what float32 rounded away from the angle (compensated summation in the
C++; the angle is angle + angle_residual). Here in float64 it is carried along, always folded in.
mimo_rank 0 is SISO; mimo_rank r >= 1 is MIMO with rank r (rank 1 with mimo_x = mimo_o = 1 is
exactly SISO, which tests prove).
"""
import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from init import a_log_per_head_, dt_bias_, uniform_
from mamba2_block import rms_norm
from mamba3_scan import mamba3_scan_chunked, mamba3_scan_naive

TWO_PI = 2 * math.pi


@dataclass
class Mamba3Config:
    d_model: int
    d_state: int = 16
    head_dim: int = 16
    expand: int = 2
    n_groups: int = 1
    mimo_rank: int = 0
    norm_eps: float = 1e-5

    @property
    def d_inner(self) -> int:
        return self.expand * self.d_model

    @property
    def n_heads(self) -> int:
        return self.d_inner // self.head_dim

    @property
    def ranks(self) -> int:
        return max(self.mimo_rank, 1)

    @property
    def n_angles(self) -> int:
        return self.d_state // 2

    @property
    def in_proj_dim(self) -> int:
        bc = self.ranks * self.n_groups * self.d_state
        return 2 * self.d_inner + 2 * bc + 2 * self.n_heads + self.n_angles


def rotate_pairs(v: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """v [..., N] rotated pair by pair: (v[2k], v[2k+1]) by angle[..., k] (broadcast)."""
    even, odd = v[..., 0::2], v[..., 1::2]
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([even * c - odd * s, even * s + odd * c], dim=-1).flatten(-2)


class Mamba3Block(nn.Module):
    def __init__(self, cfg: Mamba3Config):
        super().__init__()
        if cfg.d_state % 2:
            raise ValueError("mamba3 d_state must be even (pairs of state channels rotate)")
        self.cfg = cfg
        H, R, N, P = cfg.n_heads, cfg.ranks, cfg.d_state, cfg.head_dim
        self.in_proj = nn.Linear(cfg.d_model, cfg.in_proj_dim, bias=False)
        self.dt_bias = nn.Parameter(torch.empty(H))
        self.A_log = nn.Parameter(torch.empty(H))
        self.D = nn.Parameter(torch.empty(H))
        self.B_norm_weight = nn.Parameter(torch.empty(N))
        self.C_norm_weight = nn.Parameter(torch.empty(N))
        self.B_bias = nn.Parameter(torch.empty(H, R, N))
        self.C_bias = nn.Parameter(torch.empty(H, R, N))
        if cfg.mimo_rank > 0:
            self.mimo_x = nn.Parameter(torch.empty(H, R, P))
            self.mimo_o = nn.Parameter(torch.empty(H, R, P))
        self.norm_weight = nn.Parameter(torch.empty(cfg.d_inner))
        self.out_proj = nn.Linear(cfg.d_inner, cfg.d_model, bias=False)
        self.reset_parameters()

    def reset_parameters(self, generator: Optional[torch.Generator] = None):
        cfg = self.cfg
        bound = 1.0 / math.sqrt(cfg.d_model)
        uniform_(self.in_proj.weight, -bound, bound, generator)
        uniform_(self.out_proj.weight, -1.0 / math.sqrt(cfg.d_inner), 1.0 / math.sqrt(cfg.d_inner),
                 generator)
        dt_bias_(self.dt_bias, generator)
        a_log_per_head_(self.A_log, generator)
        uniform_(self.D, 0.5, 1.5, generator)
        uniform_(self.B_norm_weight, 0.8, 1.2, generator)
        uniform_(self.C_norm_weight, 0.8, 1.2, generator)
        # The paper initialises the B and C biases to one; spread them so a swapped index shows.
        uniform_(self.B_bias, 0.5, 1.5, generator)
        uniform_(self.C_bias, 0.5, 1.5, generator)
        if cfg.mimo_rank > 0:
            uniform_(self.mimo_x, 0.5 / cfg.ranks, 1.5 / cfg.ranks, generator)
            uniform_(self.mimo_o, 0.5 / cfg.ranks, 1.5 / cfg.ranks, generator)
        uniform_(self.norm_weight, 0.8, 1.2, generator)

    def initial_state(self, dtype=torch.float32, device=None) -> Dict[str, torch.Tensor]:
        cfg = self.cfg
        H, P, N, R = cfg.n_heads, cfg.head_dim, cfg.d_state, cfg.ranks
        return {"ssm": torch.zeros(H, P, N, dtype=dtype, device=device),
                "prev_x": torch.zeros(H, P, dtype=dtype, device=device),
                "prev_b": torch.zeros(H, R, N, dtype=dtype, device=device),
                "angle": torch.zeros(H, cfg.n_angles, dtype=dtype, device=device),
                "angle_residual": torch.zeros(H, cfg.n_angles, dtype=dtype, device=device)}

    def _mimo_in(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., H, P] -> xr [..., H, R', P]."""
        if self.cfg.mimo_rank == 0:
            return x.unsqueeze(-2)
        return x.unsqueeze(-2) * self.mimo_x

    def forward(self, u: torch.Tensor, state: Dict[str, torch.Tensor], chunk: int = 64,
                naive: bool = False) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """u [T, d_model] -> [T, d_model]; returns the state after the last step."""
        cfg = self.cfg
        T = u.shape[0]
        H, G, N, R, P = cfg.n_heads, cfg.n_groups, cfg.d_state, cfg.ranks, cfg.head_dim
        bc = R * G * N
        z, x, B, C, dt_raw, lam_raw, theta = torch.split(
            self.in_proj(u), [cfg.d_inner, cfg.d_inner, bc, bc, H, H, cfg.n_angles], dim=-1)
        dt = F.softplus(dt_raw + self.dt_bias)                         # [T, H]
        lam = torch.sigmoid(lam_raw)
        A = -torch.exp(self.A_log)

        # B, C: [T, R, G, N] -> normalised -> per head [T, H, R, N] + bias
        heads_per_group = H // G
        B = rms_norm(B.reshape(T, R, G, N), self.B_norm_weight, cfg.norm_eps)
        C = rms_norm(C.reshape(T, R, G, N), self.C_norm_weight, cfg.norm_eps)
        B = B.repeat_interleave(heads_per_group, dim=2).transpose(1, 2) + self.B_bias
        C = C.repeat_interleave(heads_per_group, dim=2).transpose(1, 2) + self.C_bias

        # Accumulated angles, wrapped into [0, 2 pi) after every step.
        increments = dt[:, :, None] * theta[:, None, :]                # [T, H, N/2]
        start = state["angle"] + state["angle_residual"]
        if naive:
            angles, phi = [], start
            for t in range(T):
                phi = torch.remainder(phi + increments[t], TWO_PI)
                angles.append(phi)
            angle = torch.stack(angles)
        else:
            angle = torch.remainder(start + torch.cumsum(increments, dim=0), TWO_PI)
        B = rotate_pairs(B, angle[:, :, None, :])
        C = rotate_pairs(C, angle[:, :, None, :])

        x = x.reshape(T, H, P)
        xr = self._mimo_in(x)                                          # [T, H, R, P]
        prev_xr = self._mimo_in(state["prev_x"])
        scan_args = (xr, dt, lam, A, B, C, state["ssm"], prev_xr, state["prev_b"])
        if naive:
            y, (ssm, _, last_B) = mamba3_scan_naive(*scan_args)
        else:
            y, (ssm, _, last_B) = mamba3_scan_chunked(*scan_args, chunk=chunk)
        y = y + self.D[:, None, None] * xr
        y = y[:, :, 0, :] if cfg.mimo_rank == 0 else (y * self.mimo_o).sum(dim=2)
        y = y.reshape(T, cfg.d_inner)
        y = rms_norm(y * F.silu(z), self.norm_weight, cfg.norm_eps, cfg.d_inner // G)
        new_state = {"ssm": ssm, "prev_x": x[-1], "prev_b": last_B, "angle": angle[-1],
                     "angle_residual": torch.zeros_like(angle[-1])}
        return self.out_proj(y), new_state

    def step(self, u: torch.Tensor, state: Dict[str, torch.Tensor]):
        out, new_state = self.forward(u[None, :], state, naive=True)
        return out[0], new_state

    def named_tensors(self, prefix: str) -> Dict[str, torch.Tensor]:
        tensors = {prefix + "in_proj.weight": self.in_proj.weight,
                   prefix + "dt_bias": self.dt_bias,
                   prefix + "A_log": self.A_log,
                   prefix + "D": self.D,
                   prefix + "B_norm.weight": self.B_norm_weight,
                   prefix + "C_norm.weight": self.C_norm_weight,
                   prefix + "B_bias": self.B_bias,
                   prefix + "C_bias": self.C_bias}
        if self.cfg.mimo_rank > 0:
            tensors[prefix + "mimo_x"] = self.mimo_x
            tensors[prefix + "mimo_o"] = self.mimo_o
        tensors[prefix + "norm.weight"] = self.norm_weight
        tensors[prefix + "out_proj.weight"] = self.out_proj.weight
        return tensors
