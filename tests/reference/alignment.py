"""Naive Umeyama alignment: one cloud at a time with numpy, following the paper's formulas."""

from __future__ import annotations

import numpy as np
import torch


def umeyama_naive(X, Y, weights=None, estimate_scale=False, allow_reflection=False, eps=1e-9):
    """R, T, s with s X R + T ~ Y per cloud (row vectors); weights scale both centred sets (PyTorch3D).

    Args:
        X, Y: (N, P, d) tensors; weights: (N, P) or None.
    """
    Rs, Ts, ss = [], [], []
    for n in range(X.shape[0]):
        x = X[n].double().numpy()
        y = Y[n].double().numpy()
        w = np.ones(x.shape[0]) if weights is None else weights[n].double().numpy()
        total = max(w.sum(), eps)
        mx = (x * w[:, None]).sum(0) / total
        my = (y * w[:, None]).sum(0) / total
        xc = (x - mx) * w[:, None]
        yc = (y - my) * w[:, None]
        if weights is None:
            total = x.shape[0]
        cov = xc.T @ yc / total
        U, S, Vt = np.linalg.svd(cov)
        E = np.eye(x.shape[1])
        if not allow_reflection:
            E[-1, -1] = np.linalg.det(U @ Vt)
        R = U @ E @ Vt
        if estimate_scale:
            s = (np.diag(E) * S).sum() / max((xc * xc).sum() / total, eps)
        else:
            s = 1.0
        T = my - s * mx @ R
        Rs.append(R)
        Ts.append(T)
        ss.append(s)
    return torch.tensor(np.stack(Rs)), torch.tensor(np.stack(Ts)), torch.tensor(ss, dtype=torch.float64)
