#!/usr/bin/env python3
"""Proofs about the reference that do not depend on one reading of a paper, in float64:

  (a) Mamba-3 with lambda = 1 and zero angles is Mamba-2's exponential-Euler update;
  (b) Mamba-3 MIMO of rank 1 (mimo_x = mimo_o = 1) is Mamba-3 SISO;
  (c) every chunked scan equals its naive recurrence, for several chunk sizes, and so does the
      window-attention block's chunked (masked) form.

    /usr/bin/python3 models/train/check_proofs.py

Prints one line per proof and exits 1 if any fails. tests/models/check_reference_fixtures.sh
runs it in CI beside the fixture check.
"""
import copy
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attention_block import AttentionConfig, WindowAttentionBlock  # noqa: E402
from mamba1_block import selective_scan_chunked, selective_scan_naive  # noqa: E402
from mamba3_block import Mamba3Block, Mamba3Config  # noqa: E402
from mamba3_scan import mamba3_scan_chunked, mamba3_scan_naive  # noqa: E402
from ssd_scan import ssd_scan_chunked, ssd_scan_naive  # noqa: E402

SEED = 20261122
BOUND = 1e-12
results = []


def gap(a, b) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp(min=1e-3)).item()


def check(name: str, worst: float):
    ok = worst <= BOUND
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}: max relative difference {worst:.2e} (bound {BOUND:.0e})")


def scan_inputs(g: torch.Generator, T=97, H=3, P=5, N=6, R=1):
    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)
    dt = 0.001 + 0.1 * torch.rand(T, H, generator=g, dtype=torch.float64)
    lam = torch.rand(T, H, generator=g, dtype=torch.float64)
    A = -(1 + 15 * torch.rand(H, generator=g, dtype=torch.float64))
    return dict(xr=randn(T, H, R, P), dt=dt, lam=lam, A=A, B=randn(T, H, R, N), C=randn(T, H, R, N),
                state=randn(H, P, N), prev_xr=randn(H, R, P), prev_B=randn(H, R, N))


def proof_a(g):
    s = scan_inputs(g)
    ones = torch.ones_like(s["lam"])
    y3, (state3, _, _) = mamba3_scan_naive(s["xr"], s["dt"], ones, s["A"], s["B"], s["C"], s["state"],
                                           s["prev_xr"], s["prev_B"])
    # Mamba-2 with one group per head (B and C per head) and the same inputs.
    y2, state2 = ssd_scan_naive(s["xr"][:, :, 0], s["dt"], s["A"], s["B"][:, :, 0], s["C"][:, :, 0],
                                s["state"])
    check("(a) Mamba-3 lambda=1, zero angles == exponential-Euler (Mamba-2) update",
          max(gap(y3[:, :, 0], y2), gap(state3, state2)))


def proof_b(g):
    cfg = dict(d_model=12, d_state=8, head_dim=4, expand=2, n_groups=2)
    siso = Mamba3Block(Mamba3Config(mimo_rank=0, **cfg)).double()
    mimo = Mamba3Block(Mamba3Config(mimo_rank=1, **cfg)).double()
    siso.reset_parameters(g)
    with torch.no_grad():
        for name, t in siso.named_tensors("").items():
            dict(mimo.named_tensors(""))[name].copy_(t)
        mimo.mimo_x.fill_(1.0)
        mimo.mimo_o.fill_(1.0)
    u = torch.randn(50, 12, generator=g, dtype=torch.float64)
    state = {k: torch.randn(v.shape, generator=g, dtype=torch.float64)
             for k, v in siso.initial_state(torch.float64).items()}
    state["angle"] = torch.rand(state["angle"].shape, generator=g, dtype=torch.float64)
    with torch.no_grad():
        y_s, st_s = siso(u, copy.deepcopy(state), naive=True)
        y_m, st_m = mimo(u, copy.deepcopy(state), naive=True)
    check("(b) Mamba-3 MIMO rank 1 with unit projections == SISO (block, 50 steps)",
          max([gap(y_m, y_s)] + [gap(st_m[k], st_s[k]) for k in ("ssm", "prev_b", "angle")]))


def proof_c(g):
    for chunk in (1, 7, 64):
        s = scan_inputs(g)
        y_n, st_n = ssd_scan_naive(s["xr"][:, :, 0], s["dt"], s["A"], s["B"][:, :, 0], s["C"][:, :, 0],
                                   s["state"])
        y_c, st_c = ssd_scan_chunked(s["xr"][:, :, 0], s["dt"], s["A"], s["B"][:, :, 0],
                                     s["C"][:, :, 0], s["state"], chunk=chunk)
        check(f"(c) Mamba-2 SSD chunked (chunk {chunk}) == naive", max(gap(y_c, y_n), gap(st_c, st_n)))
        for rank in (1, 3):
            s = scan_inputs(g, R=rank)
            args = (s["xr"], s["dt"], s["lam"], s["A"], s["B"], s["C"], s["state"], s["prev_xr"],
                    s["prev_B"])
            y_n, (st_n, _, _) = mamba3_scan_naive(*args)
            y_c, (st_c, _, _) = mamba3_scan_chunked(*args, chunk=chunk)
            check(f"(c) Mamba-3 {'SISO' if rank == 1 else 'MIMO rank 3'} chunked (chunk {chunk}) == naive",
                  max(gap(y_c, y_n), gap(st_c, st_n)))
        T, D, N = 97, 6, 5
        x = torch.randn(T, D, generator=g, dtype=torch.float64)
        dt = 0.001 + 0.1 * torch.rand(T, D, generator=g, dtype=torch.float64)
        A = -(1 + 15 * torch.rand(D, N, generator=g, dtype=torch.float64))
        B = torch.randn(T, N, generator=g, dtype=torch.float64)
        C = torch.randn(T, N, generator=g, dtype=torch.float64)
        h0 = torch.randn(D, N, generator=g, dtype=torch.float64)
        y_n, st_n = selective_scan_naive(x, dt, A, B, C, h0)
        y_c, st_c = selective_scan_chunked(x, dt, A, B, C, h0, chunk=chunk)
        check(f"(c) Mamba-1 selective scan chunked (chunk {chunk}) == naive",
              max(gap(y_c, y_n), gap(st_c, st_n)))
    block = WindowAttentionBlock(AttentionConfig(d_model=8, n_heads=2, head_dim=4, window=5)).double()
    block.reset_parameters(g)
    u = torch.randn(23, 8, generator=g, dtype=torch.float64)
    with torch.no_grad():
        y_n, st_n = block(u, block.initial_state(torch.float64), naive=True)
        y_c, st_c = block(u[:9], block.initial_state(torch.float64))
        y_c2, st_c = block(u[9:], st_c)
    check("(c) window attention chunked (masked, 9 + 14 steps) == step by step",
          max(gap(torch.cat([y_c, y_c2]), y_n), gap(st_c["keys"], st_n["keys"]),
              gap(st_c["cursor"], st_n["cursor"])))


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    proof_a(g)
    proof_b(g)
    proof_c(g)
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
