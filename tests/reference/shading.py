"""Slow, obvious references for texturing, lighting and blending: Python loops over pixels and fragments.

Every function works on plain nested loops and Python floats so that it shares no code with the library.
"""

from __future__ import annotations

import math

import torch


def interpolate_face_attributes(pix_to_face, bary, face_attrs):
    """(N, H, W, K) faces, (N, H, W, K, 3) barycentrics, (F, 3, D) attributes -> (N, H, W, K, D)."""
    N, H, W, K = pix_to_face.shape
    D = face_attrs.shape[-1]
    out = torch.zeros(N, H, W, K, D, dtype=face_attrs.dtype)
    for n in range(N):
        for y in range(H):
            for x in range(W):
                for k in range(K):
                    f = int(pix_to_face[n, y, x, k])
                    if f < 0:
                        continue
                    for d in range(D):
                        out[n, y, x, k, d] = sum(float(bary[n, y, x, k, j]) * float(face_attrs[f, j, d]) for j in range(3))
    return out


def hard_rgb_blend(colors, pix_to_face, background):
    """Colour of fragment 0, or the background with alpha 0 where the pixel is empty."""
    N, H, W, K, C = colors.shape
    out = torch.zeros(N, H, W, C + 1, dtype=colors.dtype)
    for n in range(N):
        for y in range(H):
            for x in range(W):
                if int(pix_to_face[n, y, x, 0]) < 0:
                    out[n, y, x, :C] = torch.as_tensor(background, dtype=colors.dtype)
                    out[n, y, x, C] = 0.0
                else:
                    out[n, y, x, :C] = colors[n, y, x, 0]
                    out[n, y, x, C] = 1.0
    return out


def _sigmoid(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t)) if t >= 0 else math.exp(t) / (1.0 + math.exp(t))


def sigmoid_alpha_blend(colors, pix_to_face, dists, sigma):
    """RGB of fragment 0; alpha = 1 - prod over valid fragments of (1 - sigmoid(-d / sigma))."""
    N, H, W, K, C = colors.shape
    out = torch.zeros(N, H, W, C + 1, dtype=colors.dtype)
    for n in range(N):
        for y in range(H):
            for x in range(W):
                keep = 1.0
                for k in range(K):
                    if int(pix_to_face[n, y, x, k]) >= 0:
                        keep *= 1.0 - _sigmoid(-float(dists[n, y, x, k]) / sigma)
                out[n, y, x, :C] = colors[n, y, x, 0]
                out[n, y, x, C] = 1.0 - keep
    return out


def softmax_rgb_blend(colors, pix_to_face, dists, zbuf, sigma, gamma, background, znear=1.0, zfar=100.0):
    """SoftRas aggregation written out per pixel (PyTorch3D's formula, eps = 1e-10)."""
    eps = 1e-10
    N, H, W, K, C = colors.shape
    out = torch.zeros(N, H, W, C + 1, dtype=colors.dtype)
    for n in range(N):
        zn = float(znear[n]) if torch.is_tensor(znear) else znear
        zf = float(zfar[n]) if torch.is_tensor(zfar) else zfar
        for y in range(H):
            for x in range(W):
                probs, zs = [], []
                for k in range(K):
                    valid = int(pix_to_face[n, y, x, k]) >= 0
                    probs.append(_sigmoid(-float(dists[n, y, x, k]) / sigma) if valid else 0.0)
                    zs.append((zf - float(zbuf[n, y, x, k])) / (zf - zn) if valid else 0.0)
                zmax = max(max(zs), eps)
                weights = [p * math.exp((z - zmax) / gamma) for p, z in zip(probs, zs)]
                delta = max(math.exp((eps - zmax) / gamma), eps)
                denom = sum(weights) + delta
                for c in range(C):
                    num = sum(w * float(colors[n, y, x, k, c]) for k, w in enumerate(weights))
                    out[n, y, x, c] = (num + delta * float(background[c])) / denom
                keep = 1.0
                for p in probs:
                    keep *= 1.0 - p
                out[n, y, x, C] = 1.0 - keep
    return out


def sample_uv(image, u, v, align_corners=True, mode="bilinear"):
    """Samples an (H, W, C) image at uv (v up: v = 0 is the last row), border padding. Returns (C,)."""
    H, W, C = image.shape
    if align_corners:
        x, y = u * (W - 1), (1.0 - v) * (H - 1)
    else:
        x, y = u * W - 0.5, (1.0 - v) * H - 0.5
    x = min(max(x, 0.0), W - 1.0)
    y = min(max(y, 0.0), H - 1.0)
    if mode == "nearest":
        return image[int(round(y)), int(round(x))].clone()
    x0, y0 = int(math.floor(x)), int(math.floor(y))
    x1, y1 = min(x0 + 1, W - 1), min(y0 + 1, H - 1)
    ax, ay = x - x0, y - y0
    return (
        image[y0, x0] * (1 - ax) * (1 - ay)
        + image[y0, x1] * ax * (1 - ay)
        + image[y1, x0] * (1 - ax) * ay
        + image[y1, x1] * ax * ay
    )


def textures_uv_sample(maps, faces_uvs, verts_uvs, pix_to_face, bary, faces_per_mesh, align_corners=True):
    """Per-fragment texture lookup. maps / faces_uvs / verts_uvs are per-mesh lists; pix_to_face is packed."""
    N, H, W, K = pix_to_face.shape
    C = maps[0].shape[-1]
    first = [sum(faces_per_mesh[:i]) for i in range(len(faces_per_mesh))]
    out = torch.zeros(N, H, W, K, C, dtype=maps[0].dtype)
    for n in range(N):
        for y in range(H):
            for x in range(W):
                for k in range(K):
                    f = int(pix_to_face[n, y, x, k])
                    if f < 0:
                        f, b = first[n], (0.0, 0.0, 0.0)  # empty: uv (0, 0), as the library samples it
                    else:
                        b = [float(t) for t in bary[n, y, x, k]]
                    local = f - first[n]
                    uv = [0.0, 0.0]
                    for j in range(3):
                        t = int(faces_uvs[n][local, j])
                        uv[0] += b[j] * float(verts_uvs[n][t, 0])
                        uv[1] += b[j] * float(verts_uvs[n][t, 1])
                    out[n, y, x, k] = sample_uv(maps[n], uv[0], uv[1], align_corners)
    return out


def phong_point(point, normal, light_location, camera_center, ambient, diffuse, specular, shininess, texel):
    """Phong colour of one point lit by one point light: (ka * la + kd * ld * max(0, n.l)) * texel + ks * spec."""
    def norm(v):
        s = math.sqrt(sum(t * t for t in v))
        return [t / max(s, 1e-6) for t in v]

    n = norm(normal)
    l_dir = norm([a - b for a, b in zip(light_location, point)])
    cos = sum(a * b for a, b in zip(n, l_dir))
    v_dir = norm([a - b for a, b in zip(camera_center, point)])
    r = [-a + 2 * cos * b for a, b in zip(l_dir, n)]
    spec = max(0.0, sum(a * b for a, b in zip(v_dir, r))) if cos > 0 else 0.0
    return [
        (ambient[c] + diffuse[c] * max(0.0, cos)) * texel[c] + specular[c] * spec**shininess for c in range(3)
    ]
