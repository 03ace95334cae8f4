"""Slow, obvious references for signed distances and sphere tracing: one point (or ray) at a time, plain floats.

- primitive SDFs written from their geometric definition (closest point of the shape, inside / outside test),
  not from the vectorised formulas of ``inverse3d.renderer.sdf.primitives``;
- mesh SDF by brute force: the closest point of every triangle (Ericson's region tests), sign by ray parity
  (counting crossings of a ray with every triangle, Moller-Trumbore), both independent of the winding number;
- analytic ray-sphere and ray-box (slab) intersections.
"""

from __future__ import annotations

import math


def _sub(a, b):
    return [a[0] - b[0], a[1] - b[1], a[2] - b[2]]


def _add(a, b):
    return [a[0] + b[0], a[1] + b[1], a[2] + b[2]]


def _mul(a, s):
    return [a[0] * s, a[1] * s, a[2] * s]


def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cross(a, b):
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def _norm(a):
    return math.sqrt(_dot(a, a))


def to_local(p, center, rotation):
    """(p - center) @ rotation for one point: rotation given as 3 rows."""
    q = _sub(p, center)
    return [sum(q[i] * rotation[i][j] for i in range(3)) for j in range(3)]


def sphere(p, radius):
    return _norm(p) - radius


def box(p, half):
    """Outside: distance to the clamped point; inside: minus the distance to the nearest face."""
    inside = all(abs(p[i]) <= half[i] for i in range(3))
    if inside:
        return -min(half[i] - abs(p[i]) for i in range(3))
    closest = [min(max(p[i], -half[i]), half[i]) for i in range(3)]
    return _norm(_sub(p, closest))


def torus(p, R, r):
    """Distance to the core circle (radius R in the xy plane) minus r."""
    rho = math.hypot(p[0], p[1])
    if rho == 0:
        return math.hypot(R, p[2]) - r
    core = [p[0] / rho * R, p[1] / rho * R, 0.0]
    return _norm(_sub(p, core)) - r


def capsule(p, a, b, radius):
    """Distance to the segment a-b (closest point by projection, clamped) minus radius."""
    ab = _sub(b, a)
    t = _dot(_sub(p, a), ab) / _dot(ab, ab)
    t = min(max(t, 0.0), 1.0)
    return _norm(_sub(p, _add(a, _mul(ab, t)))) - radius


def cylinder(p, radius, half_height):
    """Capped cylinder around z: the clamped closest point outside, the nearest face inside."""
    rho = math.hypot(p[0], p[1])
    inside = rho <= radius and abs(p[2]) <= half_height
    if inside:
        return -min(radius - rho, half_height - abs(p[2]))
    # closest point: clamp the radial distance and the height separately
    cr = min(rho, radius)
    cz = min(max(p[2], -half_height), half_height)
    return math.hypot(rho - cr, p[2] - cz)


def plane(p, normal, offset):
    n = _mul(normal, 1.0 / _norm(normal))
    return _dot(p, n) - offset


def closest_point_on_triangle(p, a, b, c):
    """Ericson, Real-Time Collision Detection 5.1.5: the closest point of triangle abc to p."""
    ab, ac, ap = _sub(b, a), _sub(c, a), _sub(p, a)
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    if d1 <= 0 and d2 <= 0:
        return a
    bp = _sub(p, b)
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    if d3 >= 0 and d4 <= d3:
        return b
    vc = d1 * d4 - d3 * d2
    if vc <= 0 and d1 >= 0 and d3 <= 0:
        return _add(a, _mul(ab, d1 / (d1 - d3)))
    cp = _sub(p, c)
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    if d6 >= 0 and d5 <= d6:
        return c
    vb = d5 * d2 - d1 * d6
    if vb <= 0 and d2 >= 0 and d6 <= 0:
        return _add(a, _mul(ac, d2 / (d2 - d6)))
    va = d3 * d6 - d5 * d4
    if va <= 0 and (d4 - d3) >= 0 and (d5 - d6) >= 0:
        w = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        return _add(b, _mul(_sub(c, b), w))
    denom = 1.0 / (va + vb + vc)
    v, w = vb * denom, vc * denom
    return _add(a, _add(_mul(ab, v), _mul(ac, w)))


def _ray_hits_triangle(o, d, a, b, c) -> bool:
    """Moller-Trumbore: does the ray o + t d (t > 0) cross triangle abc?"""
    e1, e2 = _sub(b, a), _sub(c, a)
    h = _cross(d, e2)
    det = _dot(e1, h)
    if abs(det) < 1e-12:
        return False
    f = 1.0 / det
    s = _sub(o, a)
    u = f * _dot(s, h)
    if u < 0 or u > 1:
        return False
    q = _cross(s, e1)
    v = f * _dot(d, q)
    if v < 0 or u + v > 1:
        return False
    return f * _dot(e2, q) > 1e-12


def mesh_sdf(p, verts, faces):
    """Brute-force signed distance to a closed mesh: min over triangles, sign by the parity of crossings of a ray
    in an irrational direction (no edge or vertex hits for generic inputs)."""
    best = float("inf")
    for f in faces:
        a, b, c = verts[f[0]], verts[f[1]], verts[f[2]]
        best = min(best, _norm(_sub(p, closest_point_on_triangle(p, a, b, c))))
    d = [0.5773, 0.6123, 0.5398]
    crossings = sum(_ray_hits_triangle(p, d, verts[f[0]], verts[f[1]], verts[f[2]]) for f in faces)
    return -best if crossings % 2 == 1 else best


def ray_sphere(o, d, center, radius):
    """First t >= 0 with |o + t d - center| = radius for a unit d, or None."""
    oc = _sub(o, center)
    b = _dot(oc, d)
    c = _dot(oc, oc) - radius * radius
    disc = b * b - c
    if disc < 0:
        return None
    s = math.sqrt(disc)
    for t in (-b - s, -b + s):
        if t >= 0:
            return t
    return None


def ray_box(o, d, half):
    """First t >= 0 where the ray o + t d enters the box [-half, half] (slab method), or None."""
    t_near, t_far = -float("inf"), float("inf")
    for i in range(3):
        if abs(d[i]) < 1e-15:
            if abs(o[i]) > half[i]:
                return None
            continue
        t0, t1 = (-half[i] - o[i]) / d[i], (half[i] - o[i]) / d[i]
        t_near, t_far = max(t_near, min(t0, t1)), min(t_far, max(t0, t1))
    if t_near > t_far or t_far < 0:
        return None
    return max(t_near, 0.0)
