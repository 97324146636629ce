"""The Mamba-3 state update (arXiv 2603.15569): exponential-trapezoidal discretisation with
data-dependent rotations, SISO and MIMO; a naive recurrence and a chunked form of the same maths.

Shapes, for T steps, H heads of P channels, state size N, rank R (SISO is R = 1):
    xr [T, H, R, P]  (x through the MIMO input projection; SISO: x itself)
    B, C [T, H, R, N] already normalised, biased and rotated by the step's accumulated angles
    dt, lam [T, H] (after softplus and sigmoid)   A [H] (negative)
Recurrence, with alpha = exp(dt A), beta = (1 - lam) dt alpha, gamma = lam dt:
    state_t = alpha_t state_{t-1} + beta_t sum_r xr_{t-1,r} (outer) B_{t-1,r}
                                  + gamma_t sum_r xr_{t,r} (outer) B_{t,r}
    y_{t,r} = state_t . C_{t,r}
The previous step's xr and B come from the stream state at t = 0 (zeros at a stream's start).
With lam = 1 the beta term vanishes and this is Mamba-2's exponential-Euler update.

The chunked form treats each step's input as 2R rank-one terms (this step's with weight gamma,
the previous step's with weight beta) and then runs the masked decay-weighted product inside a
chunk, carrying only the state across chunks.
"""
import torch


def mamba3_scan_naive(xr, dt, lam, A, B, C, state, prev_xr, prev_B):
    """One step at a time. Returns y [T, H, R, P] and (state, last xr, last B)."""
    ys = []
    for t in range(xr.shape[0]):
        alpha = torch.exp(dt[t] * A)                                   # [H]
        beta = (1 - lam[t]) * dt[t] * alpha
        gamma = lam[t] * dt[t]
        now = torch.einsum("hrp,hrn->hpn", xr[t], B[t])
        before = torch.einsum("hrp,hrn->hpn", prev_xr, prev_B)
        state = alpha[:, None, None] * state + beta[:, None, None] * before + \
            gamma[:, None, None] * now
        ys.append(torch.einsum("hpn,hrn->hrp", state, C[t]))
        prev_xr, prev_B = xr[t], B[t]
    return torch.stack(ys), (state, prev_xr, prev_B)


def mamba3_scan_chunked(xr, dt, lam, A, B, C, state, prev_xr, prev_B, chunk: int = 64):
    """The same recurrence a chunk at a time (T need not be a multiple of `chunk`)."""
    T = xr.shape[0]
    alpha = torch.exp(dt * A)                                          # [T, H]
    beta = (1 - lam) * dt * alpha
    gamma = lam * dt
    # Each step's inputs as 2R rank-one terms: [x_t, x_{t-1}] weighted [gamma_t, beta_t].
    shifted_x = torch.cat([prev_xr[None], xr[:-1]])                    # [T, H, R, P]
    shifted_B = torch.cat([prev_B[None], B[:-1]])
    terms_x = torch.cat([gamma[:, :, None, None] * xr, beta[:, :, None, None] * shifted_x], dim=2)
    terms_B = torch.cat([B, shifted_B], dim=2)                         # [T, H, 2R, N]
    ys = []
    for start in range(0, T, chunk):
        stop = min(start + chunk, T)
        L = stop - start
        log_decay = torch.cumsum(dt[start:stop] * A, dim=0)            # [L, H]
        segment = log_decay[:, None, :] - log_decay[None, :, :]        # [L, L, H]
        causal = torch.ones(L, L, dtype=torch.bool, device=xr.device).tril()
        weights = torch.exp(segment.masked_fill(~causal[:, :, None], float("-inf")))
        Cc, Bc, Xc = C[start:stop], terms_B[start:stop], terms_x[start:stop]
        scores = torch.einsum("ihrn,jhkn->ijhrk", Cc, Bc) * weights[:, :, :, None, None]
        y_inside = torch.einsum("ijhrk,jhkp->ihrp", scores, Xc)
        y_carried = torch.einsum("ihrn,hpn->ihrp", Cc, state) * \
            torch.exp(log_decay)[:, :, None, None]
        ys.append(y_inside + y_carried)
        to_end = torch.exp(log_decay[-1][None, :] - log_decay)         # [L, H]
        state = state * torch.exp(log_decay[-1])[:, None, None] + \
            torch.einsum("jh,jhkp,jhkn->hpn", to_end, Xc, Bc)
    return torch.cat(ys), (state, xr[-1], B[-1])
