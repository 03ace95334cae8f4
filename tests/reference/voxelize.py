"""Naive inside test: the generalized winding number of a closed mesh, one face at a time."""

from __future__ import annotations

import math

import torch


def winding_number_naive(verts: torch.Tensor, faces: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Sum over faces of the solid angle each face subtends at each point, over 4 pi (Van Oosterom-Strackee).

    Args:
        verts: (V, 3), faces: (F, 3) counter-clockwise seen from outside, points: (P, 3).

    Returns:
        (P,) float64: about 1 inside a closed outward-facing mesh, 0 outside.
    """
    verts, points = verts.double(), points.double()
    total = torch.zeros(points.shape[0], dtype=torch.float64)
    for f in faces.tolist():  # the slow, obvious loop over faces
        a, b, c = (verts[i] - points for i in f)  # (P, 3) each
        la, lb, lc = a.norm(dim=1), b.norm(dim=1), c.norm(dim=1)
        numerator = (a * torch.cross(b, c, dim=1)).sum(dim=1)
        denominator = la * lb * lc + (a * b).sum(1) * lc + (a * c).sum(1) * lb + (b * c).sum(1) * la
        total += 2 * torch.atan2(numerator, denominator)
    return total / (4 * math.pi)


def occupancy_naive(verts: torch.Tensor, faces: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(P,) bool: winding number above one half."""
    return winding_number_naive(verts, faces, points) > 0.5
