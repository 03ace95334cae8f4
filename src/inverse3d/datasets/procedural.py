"""Procedural furniture: chairs, tables and sofas assembled from boxes and cylinders, drawn from a seed.

Every shape is a list of closed, outward-wound parts (boxes, n-gon prisms) placed so that parts touch or overlap; the
union is what a voxeliser or a renderer sees. Shapes are normalised as ShapeNet is (CONVENTIONS.md): centred at the
origin, bounding-box diagonal 1, +Y up, the front facing +Z (towards a camera at azimuth 0).

The variety follows what single-view reconstruction needs to learn: chairs have 4 square or round legs, a pedestal
with a star base, or sled runners; backs are panels, vertical slats or horizontal rails, upright or tilted; arms are
optional. Tables and sofas give two more categories for multi-class runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

CATEGORIES = ("chair", "table", "sofa")

# Unit cube corners and outward, counter-clockwise (seen from outside) triangles.
_BOX_VERTS = np.array(
    [[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1], [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]],
    dtype=np.float64,
) * 0.5
_BOX_FACES = np.array(
    [
        [0, 3, 2], [0, 2, 1],  # -z
        [4, 5, 6], [4, 6, 7],  # +z
        [0, 1, 5], [0, 5, 4],  # -y
        [3, 7, 6], [3, 6, 2],  # +y
        [0, 4, 7], [0, 7, 3],  # -x
        [1, 2, 6], [1, 6, 5],  # +x
    ],
    dtype=np.int64,
)


@dataclass
class Part:
    """A closed triangle mesh piece: verts (V, 3) float64, faces (F, 3) int64, an RGB colour in [0, 1]."""

    verts: np.ndarray
    faces: np.ndarray
    color: tuple[float, float, float] = (0.7, 0.7, 0.7)
    name: str = ""


@dataclass
class Shape:
    """A procedural shape: its parts, its category and the parameters it was drawn with."""

    category: str
    parts: list[Part]
    params: dict = field(default_factory=dict)

    def mesh(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Concatenated (verts (V, 3) float32, faces (F, 3) int64, per-vertex colours (V, 3) float32)."""
        verts, faces, colors, offset = [], [], [], 0
        for part in self.parts:
            verts.append(part.verts)
            faces.append(part.faces + offset)
            colors.append(np.tile(np.asarray(part.color, dtype=np.float64), (len(part.verts), 1)))
            offset += len(part.verts)
        return (
            np.concatenate(verts).astype(np.float32),
            np.concatenate(faces).astype(np.int64),
            np.concatenate(colors).astype(np.float32),
        )


def _rotation(axis: str, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def box(center, size, color=(0.7, 0.7, 0.7), name: str = "", rot: np.ndarray | None = None) -> Part:
    """An axis-aligned box of ``size`` (sx, sy, sz) at ``center``, optionally rotated about its centre by ``rot``."""
    verts = _BOX_VERTS * np.asarray(size, dtype=np.float64)
    if rot is not None:
        verts = verts @ rot.T
    return Part(verts + np.asarray(center, dtype=np.float64), _BOX_FACES.copy(), tuple(color), name)


def prism(center, radius: float, height: float, sides: int = 12, color=(0.7, 0.7, 0.7), name: str = "") -> Part:
    """A vertical n-gon prism (a round leg or column) of ``radius`` and ``height`` centred at ``center``."""
    theta = np.arange(sides) * (2 * math.pi / sides)
    ring = np.stack([radius * np.cos(theta), np.zeros(sides), radius * np.sin(theta)], axis=1)
    bottom, top = ring + [0, -height / 2, 0], ring + [0, height / 2, 0]
    verts = np.concatenate([bottom, top, [[0, -height / 2, 0], [0, height / 2, 0]]])
    i = np.arange(sides)
    j = (i + 1) % sides
    cb, ct = 2 * sides, 2 * sides + 1
    # Sides: outward winding (counter-clockwise seen from outside) for a ring going counter-clockwise seen from -y.
    side = np.concatenate([np.stack([i, sides + i, sides + j], 1), np.stack([i, sides + j, j], 1)])
    caps = np.concatenate([np.stack([np.full(sides, cb), i, j], 1), np.stack([np.full(sides, ct), sides + j, sides + i], 1)])
    return Part(verts + np.asarray(center, dtype=np.float64), np.concatenate([side, caps]), tuple(color), name)


def _palette(rng: np.random.Generator, random_colors: bool) -> tuple[tuple, tuple, tuple]:
    """(frame, seat, back) colours: a wood-like default or random pastel/dark colours."""
    if not random_colors:
        return (0.55, 0.38, 0.24), (0.62, 0.44, 0.28), (0.58, 0.41, 0.26)
    base = rng.uniform(0.15, 0.9, size=3)
    frame = tuple(np.clip(base * rng.uniform(0.6, 1.0), 0, 1))
    seat = tuple(np.clip(rng.uniform(0.15, 0.95, size=3), 0, 1))
    back = seat if rng.random() < 0.6 else tuple(np.clip(rng.uniform(0.15, 0.95, size=3), 0, 1))
    return frame, seat, back


def _legs(rng, style, w, d, h, t, color) -> list[Part]:
    """Legs under a seat of width w (x), depth d (z) whose underside is at height h."""
    parts: list[Part] = []
    if style in ("square", "round"):
        inset = rng.uniform(0.0, 0.06)
        for sx in (-1, 1):
            for sz in (-1, 1):
                cx, cz = sx * (w / 2 - t / 2 - inset), sz * (d / 2 - t / 2 - inset)
                if style == "square":
                    parts.append(box((cx, h / 2, cz), (t, h, t), color, "leg"))
                else:
                    parts.append(prism((cx, h / 2, cz), t / 2, h, 10, color, "leg"))
        if rng.random() < 0.4:  # stretchers between the legs
            y = h * rng.uniform(0.2, 0.35)
            for sx in (-1, 1):
                parts.append(box((sx * (w / 2 - t / 2 - inset), y, 0), (t * 0.6, t * 0.6, d - 2 * inset), color, "stretcher"))
    elif style == "pedestal":
        col = t * rng.uniform(0.8, 1.3)
        parts.append(prism((0, h / 2, 0), col, h, 12, color, "column"))
        n_feet = int(rng.integers(4, 6))
        reach = 0.5 * max(w, d) * rng.uniform(0.85, 1.05)
        for k in range(n_feet):
            ang = 2 * math.pi * k / n_feet + math.pi / n_feet
            rot = _rotation("y", ang)
            center = rot @ np.array([reach / 2, t * 0.4, 0])
            parts.append(box(center, (reach, t * 0.8, t * 0.9), color, "foot", rot=rot))
    elif style == "sled":
        for sx in (-1, 1):
            x = sx * (w / 2 - t / 2)
            parts.append(box((x, t / 2, 0), (t, t, d), color, "runner"))
            for sz in (-1, 1):
                parts.append(box((x, h / 2, sz * (d / 2 - t / 2)), (t, h, t), color, "post"))
    else:
        raise ValueError(f"unknown leg style {style!r}")
    return parts


def chair(rng: np.random.Generator, random_colors: bool = False) -> Shape:
    """A chair: seat, legs (square, round, pedestal or sled), back (panel, slats or rails), optional arms."""
    frame, seat_c, back_c = _palette(rng, random_colors)
    w, d = rng.uniform(0.4, 0.6), rng.uniform(0.38, 0.58)
    t_seat = rng.uniform(0.03, 0.09)
    h = rng.uniform(0.38, 0.5)
    t_leg = rng.uniform(0.03, 0.06)
    legs = str(rng.choice(["square", "round", "pedestal", "sled"], p=[0.4, 0.25, 0.2, 0.15]))
    back_style = str(rng.choice(["panel", "slats", "rails"], p=[0.5, 0.3, 0.2]))
    back_h = rng.uniform(0.3, 0.6)
    back_t = rng.uniform(0.025, 0.06)
    tilt = rng.uniform(0.0, 0.25)
    arms = bool(rng.random() < 0.3)
    parts = [box((0, h + t_seat / 2, 0), (w, t_seat, d), seat_c, "seat")]
    parts += _legs(rng, legs, w, d, h, t_leg, frame)
    # Back: built upright around its own base, then tilted backwards (-z) about the x axis at the seat's rear edge.
    y0, z0 = h + t_seat, -d / 2 + back_t / 2
    rot = _rotation("x", -tilt)
    pivot = np.array([0, y0, z0])

    def back_part(center, size, name):
        c = pivot + rot @ (np.asarray(center, dtype=np.float64) - pivot)
        return box(c, size, back_c, name, rot=rot)

    if back_style == "panel":
        parts.append(back_part((0, y0 + back_h / 2, z0), (w, back_h, back_t), "back"))
    else:
        post_w = t_leg
        rail_h = rng.uniform(0.04, 0.08)
        for sx in (-1, 1):
            parts.append(back_part((sx * (w / 2 - post_w / 2), y0 + back_h / 2, z0), (post_w, back_h, back_t), "back_post"))
        parts.append(back_part((0, y0 + back_h - rail_h / 2, z0), (w, rail_h, back_t), "top_rail"))
        inner = w - 2 * post_w
        if back_style == "slats":
            n = int(rng.integers(2, 6))
            slat_w = inner / (2 * n + 1)
            for k in range(n):
                x = -inner / 2 + slat_w * (2 * k + 1.5)
                parts.append(back_part((x, y0 + (back_h - rail_h) / 2, z0), (slat_w, back_h - rail_h, back_t * 0.7), "slat"))
        else:
            n = int(rng.integers(1, 4))
            for k in range(n):
                y = y0 + (back_h - rail_h) * (k + 1) / (n + 1)
                parts.append(back_part((0, y, z0), (inner, rail_h * 0.8, back_t * 0.7), "rail"))
    if arms:
        arm_h = rng.uniform(0.15, 0.25)
        arm_w = rng.uniform(0.04, 0.07)
        for sx in (-1, 1):
            x = sx * (w / 2 - arm_w / 2)
            parts.append(box((x, h + t_seat + arm_h, 0), (arm_w, 0.03, d * 0.9), frame, "arm"))
            parts.append(box((x, h + t_seat + arm_h / 2, d / 2 - 0.05), (arm_w * 0.7, arm_h, 0.04), frame, "arm_support"))
    params = dict(width=w, depth=d, seat_height=h, legs=legs, back=back_style, back_height=back_h, tilt=tilt, arms=arms)
    return Shape("chair", parts, params)


def table(rng: np.random.Generator, random_colors: bool = False) -> Shape:
    """A table: rectangular or round top on four legs, a pedestal or two trestles."""
    frame, top_c, _ = _palette(rng, random_colors)
    w, d = rng.uniform(0.6, 1.4), rng.uniform(0.5, 0.9)
    h = rng.uniform(0.45, 0.75)
    t = rng.uniform(0.03, 0.07)
    t_leg = rng.uniform(0.04, 0.08)
    round_top = bool(rng.random() < 0.3)
    legs = str(rng.choice(["square", "round", "pedestal", "trestle"], p=[0.4, 0.2, 0.2, 0.2]))
    parts = []
    if round_top:
        r = 0.5 * min(w, d) * rng.uniform(1.0, 1.3)
        parts.append(prism((0, h + t / 2, 0), r, t, 24, top_c, "top"))
        w = d = 2 * r * 0.75
    else:
        parts.append(box((0, h + t / 2, 0), (w, t, d), top_c, "top"))
    if legs == "trestle":
        for sx in (-1, 1):
            x = sx * (w / 2 - t_leg)
            parts.append(box((x, h / 2, 0), (t_leg, h, t_leg), frame, "trestle_post"))
            parts.append(box((x, t_leg / 2, 0), (t_leg * 1.2, t_leg, d * 0.9), frame, "trestle_foot"))
        parts.append(box((0, h * 0.3, 0), (w - 2 * t_leg, t_leg * 0.7, t_leg * 0.7), frame, "stretcher"))
    else:
        parts += _legs(rng, legs, w, d, h, t_leg, frame)
    return Shape("table", parts, dict(width=w, depth=d, height=h, legs=legs, round_top=round_top))


def sofa(rng: np.random.Generator, random_colors: bool = False) -> Shape:
    """A sofa: base, seat cushions, back, two arms (sometimes none), short feet."""
    frame, fabric, back_c = _palette(rng, random_colors)
    if not random_colors:
        fabric, back_c = (0.35, 0.42, 0.55), (0.32, 0.39, 0.52)
    w, d = rng.uniform(1.0, 1.8), rng.uniform(0.6, 0.9)
    foot = rng.uniform(0.03, 0.1)
    base_h = rng.uniform(0.15, 0.25)
    cushion_h = rng.uniform(0.08, 0.15)
    back_h = rng.uniform(0.3, 0.5)
    back_t = rng.uniform(0.12, 0.22)
    arm_w = rng.uniform(0.08, 0.18)
    arms = bool(rng.random() < 0.85)
    arm_h = rng.uniform(0.15, 0.3)
    parts = []
    for sx in (-1, 1):
        for sz in (-1, 1):
            parts.append(box((sx * (w / 2 - 0.05), foot / 2, sz * (d / 2 - 0.05)), (0.05, foot, 0.05), frame, "foot"))
    parts.append(box((0, foot + base_h / 2, 0), (w, base_h, d), fabric, "base"))
    inner = w - 2 * arm_w if arms else w
    n_cush = int(rng.integers(1, 4))
    cw = inner / n_cush
    for k in range(n_cush):
        x = -inner / 2 + cw * (k + 0.5)
        parts.append(box((x, foot + base_h + cushion_h / 2, back_t / 2), (cw * 0.98, cushion_h, d - back_t), fabric, "cushion"))
    parts.append(box((0, foot + base_h + back_h / 2, -d / 2 + back_t / 2), (w, back_h, back_t), back_c, "back"))
    if arms:
        for sx in (-1, 1):
            parts.append(box((sx * (w / 2 - arm_w / 2), foot + base_h + arm_h / 2, 0), (arm_w, arm_h, d), fabric, "arm"))
    return Shape("sofa", parts, dict(width=w, depth=d, seats=n_cush, arms=arms))


_MAKERS = {"chair": chair, "table": table, "sofa": sofa}


def normalize(verts: np.ndarray) -> np.ndarray:
    """Centres the bounding box at the origin and scales its diagonal to 1, as ShapeNet is normalised."""
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    diag = float(np.linalg.norm(hi - lo))
    if not np.isfinite(diag) or diag <= 0:
        raise ValueError("cannot normalise a shape with an empty or degenerate bounding box")
    return (verts - (lo + hi) / 2) / diag


def make_shape(category: str, seed: int, random_colors: bool = False) -> tuple[Shape, np.ndarray, np.ndarray, np.ndarray]:
    """Draws shape ``seed`` of ``category``.

    Returns:
        (shape, verts (V, 3) float32 normalised, faces (F, 3) int64, colours (V, 3) float32 in [0, 1]).
    """
    if category not in _MAKERS:
        raise ValueError(f"unknown category {category!r}; choose one of {CATEGORIES}")
    rng = np.random.default_rng([seed, CATEGORIES.index(category)])
    shape = _MAKERS[category](rng, random_colors)
    verts, faces, colors = shape.mesh()
    return shape, normalize(verts).astype(np.float32), faces, colors
