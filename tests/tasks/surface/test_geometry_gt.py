"""The ground truth of the geometry metrics: the surface of the solid a closed mesh encloses, without the faces
buried inside other parts (a scene assembled from overlapping closed parts has them)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from inverse3d.tasks.surface.evaluate import geometry_metrics, is_closed, outer_surface_points


def _mesh(*parts: trimesh.Trimesh) -> tuple[torch.Tensor, torch.Tensor]:
    """Several closed parts in one mesh, as the built-in scenes' mesh.ply (no union computed)."""
    verts, faces, offset = [], [], 0
    for m in parts:
        verts.append(np.asarray(m.vertices))
        faces.append(np.asarray(m.faces) + offset)
        offset += len(m.vertices)
    return torch.tensor(np.concatenate(verts), dtype=torch.float32), torch.tensor(np.concatenate(faces))


def _two_boxes():
    a = trimesh.creation.box(extents=(2, 2, 2))  # [-1, 1]^3
    b = trimesh.creation.box(extents=(2, 1, 1), transform=trimesh.transformations.translation_matrix((1, 0, 0)))
    return _mesh(a, b)  # b = [0, 2] x [-0.5, 0.5]^2 pokes out of a's +x face


def test_buried_faces_are_left_out():
    verts, faces = _two_boxes()
    assert is_closed(verts, faces) and not is_closed(verts, faces[:-1])
    # the same mesh with its vertices repeated per face (as PLY files often have them) is closed too
    assert is_closed(verts[faces.reshape(-1)], torch.arange(faces.numel()).reshape(-1, 3))
    points, buried = outer_surface_points(verts, faces, 4000, seed=0)
    # buried: b's face at x = 0 (area 1), b's sides inside a (4 x 1), a's face at x = 1 inside b (1): 6 of 34
    assert buried == pytest.approx(6 / 34, abs=0.02)
    assert points.shape == (4000, 3)
    inside_a = (points.abs() < 1 - 1e-3).all(-1)
    inside_b = (points[:, 0] > 1e-3) & (points[:, 0] < 2 - 1e-3) & (points[:, 1:].abs() < 0.5 - 1e-3).all(-1)
    assert not bool((inside_a | inside_b).any())  # every kept point lies on the union's boundary
    on_b_tip = (points[:, 0] - 2).abs() < 1e-5
    assert int(on_b_tip.sum()) > 0  # the parts outside a are kept
    # inward-wound faces: the same surface (other samples: the corners' order changed)
    flipped, buried_f = outer_surface_points(verts, faces.flip(1), 4000, seed=0)
    assert buried_f == pytest.approx(6 / 34, abs=0.02)
    inside_a = (flipped.abs() < 1 - 1e-3).all(-1)
    inside_b = (flipped[:, 0] > 1e-3) & (flipped[:, 0] < 2 - 1e-3) & (flipped[:, 1:].abs() < 0.5 - 1e-3).all(-1)
    assert not bool((inside_a | inside_b).any())


def test_geometry_metrics_against_the_outer_surface():
    verts, faces = _two_boxes()
    outer = geometry_metrics(verts, faces, (verts, faces), n_points=3000)
    every = geometry_metrics(verts, faces, (verts, faces), n_points=3000, outer_surface=False)
    assert outer["gt_surface"] == "outer" and outer["gt_buried"] == pytest.approx(6 / 34, abs=0.03)
    assert every["gt_surface"] == "all faces" and every["gt_buried"] == 0.0
    # the prediction here is the mesh itself, buried faces included: all of the outer surface is recalled, but
    # the buried faces are not part of it (lower precision); against every face both are about 100
    # (at t = 0.05: the 3000 samples lie about 0.026 apart)
    assert outer["recall"]["0.05"] > 99 and outer["precision"]["0.05"] < 90
    assert every["recall"]["0.05"] > 99 and every["precision"]["0.05"] > 99
    # an open ground truth is used as it is
    open_gt = geometry_metrics(verts, faces, (verts, faces[:-2]), n_points=2000)
    assert open_gt["gt_surface"] == "all faces"
