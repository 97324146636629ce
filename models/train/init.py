"""Seeded initialisations the reference blocks share. Every draw goes through the caller's
generator, in the caller's order, so a seed gives the same weights on any machine."""
import math
from typing import Optional

import torch


def uniform_(t: torch.Tensor, low: float, high: float, generator: Optional[torch.Generator]):
    with torch.no_grad():
        t.copy_(torch.rand(t.shape, generator=generator, dtype=t.dtype) * (high - low) + low)


def dt_bias_(bias: torch.Tensor, generator: Optional[torch.Generator],
             dt_min: float = 1e-3, dt_max: float = 0.1):
    """Mamba's dt initialisation: dt log-uniform in [dt_min, dt_max], stored through the inverse
    of softplus so that softplus(bias) = dt."""
    with torch.no_grad():
        dt = torch.exp(torch.rand(bias.shape, generator=generator, dtype=bias.dtype)
                       * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        bias.copy_(dt + torch.log(-torch.expm1(-dt)))


def a_log_per_head_(a_log: torch.Tensor, generator: Optional[torch.Generator]):
    """Mamba-2's scalar decay rate per head: A uniform in [1, 16], stored as log A."""
    with torch.no_grad():
        a_log.copy_(torch.log(torch.rand(a_log.shape, generator=generator, dtype=a_log.dtype) * 15 + 1))
