"""The Mamba-2 (SSD) state-space scan: a naive recurrence and a chunked form of the same maths.

Shapes, for a sequence of T steps with H heads of P channels, G groups and state size N, with
any leading batch dimensions "..." (a state without them is shared by every row as the start):
    x  [..., T, H, P]   dt [..., T, H] (after softplus)   A [H] (negative)   B, C [..., T, G, N]
    state [..., H, P, N]; head h reads group h // (H // G).
Recurrence (arXiv 2405.21060, eq. 1 with a scalar decay per head):
    state_t = exp(dt_t * A) * state_{t-1} + dt_t * x_t (outer) B_t
    y_t     = state_t . C_t
The chunked form (the paper's "SSD minimal" listing, written again here) splits time into
chunks of length L: inside a chunk the output is a masked, decay-weighted attention-like
product; across chunks only the state is carried. Both return y [T, H, P] and the final state,
and are equal up to rounding (tests/models/test_reference.py checks it in float64).
"""
import torch


def _heads_to_groups(t: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[..., T, G, N] -> [..., T, H, N]: each head reads its group's B or C."""
    return t.repeat_interleave(n_heads // t.shape[-2], dim=-2)


def ssd_scan_naive(x, dt, A, B, C, state):
    """One step at a time; the plain reference the chunked scan and the C++ must match."""
    n_heads = x.shape[-2]
    Bh = _heads_to_groups(B, n_heads)
    Ch = _heads_to_groups(C, n_heads)
    ys = []
    for t in range(x.shape[-3]):
        decay = torch.exp(dt[..., t, :] * A)                                  # [..., H]
        state = state * decay[..., None, None] + \
            (dt[..., t, :, None] * x[..., t, :, :])[..., None] * Bh[..., t, :, None, :]
        ys.append(torch.einsum("...hpn,...hn->...hp", state, Ch[..., t, :, :]))
    return torch.stack(ys, dim=-3), state


def ssd_scan_chunked(x, dt, A, B, C, state, chunk: int = 64):
    """The same recurrence, a chunk of `chunk` steps at a time (T need not be a multiple)."""
    T, n_heads = x.shape[-3], x.shape[-2]
    Bh = _heads_to_groups(B, n_heads)
    Ch = _heads_to_groups(C, n_heads)
    ys = []
    for start in range(0, T, chunk):
        stop = min(start + chunk, T)
        xc, dtc = x[..., start:stop, :, :], dt[..., start:stop, :]
        Bc, Cc = Bh[..., start:stop, :, :], Ch[..., start:stop, :, :]
        log_decay = torch.cumsum(dtc * A, dim=-2)                            # [..., L, H]
        # segment[i, j, h] = sum of log decays over steps j+1..i, for i >= j
        segment = log_decay[..., :, None, :] - log_decay[..., None, :, :]    # [..., L, L, H]
        causal = torch.ones(stop - start, stop - start, dtype=torch.bool, device=x.device).tril()
        weights = torch.exp(segment.masked_fill(~causal[:, :, None], float("-inf")))
        scores = torch.einsum("...ihn,...jhn->...ijh", Cc, Bc) * weights      # [..., L, L, H]
        y_inside = torch.einsum("...ijh,...jh,...jhp->...ihp", scores, dtc, xc)
        y_carried = torch.einsum("...ihn,...hpn->...ihp", Cc, state) * \
            torch.exp(log_decay)[..., None]
        ys.append(y_inside + y_carried)
        to_end = torch.exp(log_decay[..., -1:, :] - log_decay)               # [..., L, H]
        state = state * torch.exp(log_decay[..., -1, :])[..., None, None] + \
            torch.einsum("...jh,...jh,...jhp,...jhn->...hpn", to_end, dtc, xc, Bc)
    return torch.cat(ys, dim=-3), state
