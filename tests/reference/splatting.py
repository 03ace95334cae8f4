"""Naive Gaussian splatting: every Gaussian at every pixel, sorted by depth, composited front to back.

``rasterize_loop`` is the oracle: a plain Python loop over cameras, pixels and the depth-sorted Gaussians with
torch scalars (autograd gives the reference gradients), and its own per-Gaussian projection written from the EWA
formulas. Rules as in 3DGS: alpha = min(0.99, opacity exp(-q/2)), skipped below 1/255, compositing stops before the
transmittance would fall below 1e-4; depth = camera z; SH colour = max(SH + 0.5, 0).

``rasterize_dense`` is the course-style dense rasteriser, all (pixel, Gaussian) pairs as one batched tensor
(chunked over pixels): the benchmark's comparator and a second oracle at sizes the loop cannot reach.
"""

from __future__ import annotations

import math

import torch

SH_C = [0.28209479177387814, 0.4886025119029199]


def _sh_loop(degree, d, coeffs):
    """SH value (D,) at unit direction d (3,) from coeffs (K, D), written out term by term (Sloan's constants as
    gsplat lists them: an independent spelling of the same basis)."""
    x, y, z = d[0], d[1], d[2]
    b = [torch.full_like(x, 0.2820947917738781)]
    if degree >= 1:
        b += [-0.48860251190292 * y, 0.48860251190292 * z, -0.48860251190292 * x]
    if degree >= 2:
        fC1, fS1 = x * x - y * y, 2 * x * y
        b += [0.5462742152960395 * fS1, -1.092548430592079 * z * y, 0.9461746957575601 * z * z - 0.3153915652525201,
              -1.092548430592079 * z * x, 0.5462742152960395 * fC1]
    if degree >= 3:
        fC1, fS1 = x * x - y * y, 2 * x * y
        fC2, fS2 = x * fC1 - y * fS1, x * fS1 + y * fC1
        tC = -2.285228997322329 * z * z + 0.4570457994644658
        tB = 1.445305721320277 * z
        b += [-0.5900435899266435 * fS2, tB * fS1, tC * y, z * (1.865881662950577 * z * z - 1.119528997770346),
              tC * x, tB * fC1, -0.5900435899266435 * fC2]
    out = 0
    for k, bk in enumerate(b):
        out = out + bk * coeffs[k]
    return out


def _quat_to_rot(q):
    w, x, y, z = q / q.norm()
    return torch.stack([
        torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)]),
        torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)]),
        torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]),
    ])


def _project_one(mean, cov, viewmat, K, width, height, eps2d):
    """(mean2d (2,), conic (3,), depth, cov2d) of one Gaussian in one camera."""
    R, t = viewmat[:3, :3], viewmat[:3, 3]
    p = R @ mean + t
    z = p[2]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    u, v = p[0] / z, p[1] / z
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    uc = torch.clamp(u, float(-(cx / fx + 0.3 * tan_x)), float((width - cx) / fx + 0.3 * tan_x))
    vc = torch.clamp(v, float(-(cy / fy + 0.3 * tan_y)), float((height - cy) / fy + 0.3 * tan_y))
    zero = torch.zeros_like(z)
    J = torch.stack([torch.stack([fx / z, zero, -fx * uc / z]), torch.stack([zero, fy / z, -fy * vc / z])])
    cov2 = J @ (R @ cov @ R.T) @ J.T + eps2d * torch.eye(2, dtype=mean.dtype)
    det = cov2[0, 0] * cov2[1, 1] - cov2[0, 1] * cov2[1, 0]
    conic = torch.stack([cov2[1, 1] / det, -cov2[0, 1] / det, cov2[0, 0] / det])
    return torch.stack([fx * u + cx, fy * v + cy]), conic, z, cov2


def rasterize_loop(means, quats, scales, opacities, colors, viewmats, Ks, width, height, near_plane=0.01,
                   far_plane=1e10, eps2d=0.3, sh_degree=None, backgrounds=None, render_mode="RGB"):
    """Same arguments and (render_colors, render_alphas, median_depths) as ``rasterization`` (median depths
    (C, H, W, 1), 0 where none), by loops. Gaussians whose 3.33-sigma box misses the image are culled, as
    gsplat does."""
    C, N = viewmats.shape[0], means.shape[0]
    images, alphas, medians = [], [], []
    for c in range(C):
        R, t = viewmats[c, :3, :3], viewmats[c, :3, 3]
        campos = -R.T @ t
        proj = []
        for i in range(N):
            rot = _quat_to_rot(quats[i])
            cov = rot @ torch.diag(scales[i] ** 2) @ rot.T
            z = float((R @ means[i] + t)[2].detach())
            if not near_plane < z < far_plane:
                continue
            m2, conic, z, cov2 = _project_one(means[i], cov, viewmats[c], Ks[c], width, height, eps2d)
            rx = math.ceil(3.33 * math.sqrt(float(cov2[0, 0].detach())))
            ry = math.ceil(3.33 * math.sqrt(float(cov2[1, 1].detach())))
            mx, my = float(m2[0].detach()), float(m2[1].detach())
            if not (mx + rx > 0 and mx - rx < width and my + ry > 0 and my - ry < height):
                continue
            if sh_degree is not None:
                d = means[i] - campos
                col = torch.clamp_min(_sh_loop(sh_degree, d / d.norm(), colors[i]) + 0.5, 0.0)
            elif colors is not None:
                col = colors[i] if colors.dim() == 2 else colors[c, i]
            else:
                col = None
            proj.append((float(z.detach()), m2, conic, z, opacities[i], col))
        proj.sort(key=lambda e: e[0])
        rows_img, rows_a, rows_m = [], [], []
        for py in range(height):
            row_img, row_a, row_m = [], [], []
            for px in range(width):
                T = torch.ones((), dtype=means.dtype)
                acc_c, acc_d = 0.0, 0.0
                med = torch.zeros((), dtype=means.dtype)
                for _, m2, conic, z, o, col in proj:
                    dx, dy = px + 0.5 - m2[0], py + 0.5 - m2[1]
                    q = conic[0] * dx * dx + 2 * conic[1] * dx * dy + conic[2] * dy * dy
                    a = o * torch.exp(-0.5 * q)
                    if float(a.detach()) < 1.0 / 255.0:
                        continue
                    a = torch.clamp_max(a, 0.99)
                    if float((T * (1 - a)).detach()) < 1e-4:
                        break
                    if float(T.detach()) > 0.5:
                        med = z
                    if col is not None:
                        acc_c = acc_c + a * T * col
                    acc_d = acc_d + a * T * z
                    T = T * (1 - a)
                alpha = 1 - T
                chans = []
                if render_mode in ("RGB", "RGB+D", "RGB+ED"):
                    value = acc_c if torch.is_tensor(acc_c) else torch.zeros(colors.shape[-1], dtype=means.dtype)
                    if backgrounds is not None:
                        value = value + backgrounds[c] * T
                    chans.append(value)
                if render_mode in ("D", "RGB+D"):
                    chans.append(torch.as_tensor(acc_d, dtype=means.dtype).reshape(1))
                if render_mode in ("ED", "RGB+ED"):
                    chans.append((torch.as_tensor(acc_d, dtype=means.dtype) / torch.clamp_min(alpha, 1e-10)).reshape(1))
                row_img.append(torch.cat(chans))
                row_a.append(alpha.reshape(1))
                row_m.append(med.reshape(1))
            rows_img.append(torch.stack(row_img))
            rows_a.append(torch.stack(row_a))
            rows_m.append(torch.stack(row_m))
        images.append(torch.stack(rows_img))
        alphas.append(torch.stack(rows_a))
        medians.append(torch.stack(rows_m))
    return torch.stack(images), torch.stack(alphas), torch.stack(medians)


def rasterize_dense(means, quats, scales, opacities, colors, viewmats, Ks, width, height, eps2d=0.3,
                    near_plane=0.01, pixel_chunk=4096):
    """RGB (C, H, W, D) and alpha (C, H, W, 1) by evaluating every Gaussian at every pixel (batched, chunked over
    pixels), as the course's pure-PyTorch rasteriser does; same rules as ``rasterize_loop`` (no early stop
    is needed for equality: Gaussians after termination are masked by the transmittance test)."""
    from inverse3d.renderer.splatting.projection import project_gaussians, quat_scale_to_covar

    C, N = viewmats.shape[0], means.shape[0]
    proj = project_gaussians(means, quat_scale_to_covar(quats, scales), viewmats, Ks, width, height, eps2d,
                             near_plane)
    ys, xs = torch.meshgrid(torch.arange(height, dtype=means.dtype) + 0.5,
                            torch.arange(width, dtype=means.dtype) + 0.5, indexing="ij")
    pix = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)  # (HW, 2)
    images, alphas = [], []
    for c in range(C):
        order = torch.argsort(proj.depths[c])
        vis = (proj.radii[c] > 0).all(dim=-1)[order]
        m2, con = proj.means2d[c][order], proj.conics[c][order]
        o = opacities[order] * vis
        col = (colors if colors.dim() == 2 else colors[c])[order]
        outs, outa = [], []
        for s in range(0, pix.shape[0], pixel_chunk):
            d = pix[s:s + pixel_chunk, None, :] - m2[None]  # (P, N, 2)
            q = con[:, 0] * d[..., 0] ** 2 + 2 * con[:, 1] * d[..., 0] * d[..., 1] + con[:, 2] * d[..., 1] ** 2
            a = (o * torch.exp(-0.5 * q)).clamp_max(0.99)
            a = torch.where(a >= 1 / 255, a, torch.zeros_like(a))
            trans = torch.cumprod(1 - a, dim=-1)
            a = a * (trans >= 1e-4)
            t_before = torch.cumprod(torch.cat([torch.ones_like(a[:, :1]), 1 - a[:, :-1]], dim=-1), dim=-1)
            w = a * t_before
            outs.append(w @ col)
            outa.append(w.sum(-1, keepdim=True))
        images.append(torch.cat(outs).reshape(height, width, -1))
        alphas.append(torch.cat(outa).reshape(height, width, 1))
    return torch.stack(images), torch.stack(alphas)
