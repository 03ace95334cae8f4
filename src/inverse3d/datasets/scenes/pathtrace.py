"""The photoreal end of the photorealism spectrum: a ``SceneSpec`` path traced by Mitsuba 3.

``render_pathtraced(spec, c2w, camera_angle_x, image_size, spp)`` draws the scene that ``raster.py`` draws, from the
same OpenGL cameras, with soft shadows, glossy reflection and global illumination. Mitsuba is the optional
``photoreal`` extra (``pip install -e .[photoreal]``); nothing else in inverse3d needs it.

The Mitsuba scene, built through its Python dict API:

- every part is an ``mi.Mesh`` (world coordinates as given, vertex normals recomputed by Mitsuba for smooth shading as
  the rasteriser's) whose albedo is its UV texture (a bilinear ``bitmap``) or its vertex colours (the
  ``vertex_color`` mesh attribute; one ``rgb`` value when they are all equal). Materials: ``diffuse`` ->
  ``diffuse``; ``glossy`` -> ``roughplastic`` (GGX, ``alpha = roughness``, the albedo under a clear coat; for
  varying vertex colours, which roughplastic cannot take, a ``principled`` plastic of the same roughness); ``metal`` ->
  ``roughconductor`` (GGX, ``alpha = roughness``, a perfect conductor tinted by the albedo). All are two-sided, as the
  rasteriser shades back faces too;
- a light with ``radius > 0`` is a sphere of that radius with an ``area`` emitter (soft shadows), invisible to camera
  rays; a light with ``radius == 0`` is a ``point`` light (hard shadows);
- a ``constant`` environment of radiance ``spec.ambient`` lights everything a little from all directions (the
  rasteriser's ambient term, here with occlusion and interreflection); it is hidden from camera rays, so that
  where no surface is hit the image is transparent (alpha 0) or ``spec.background``;
- the ``path`` integrator (paths of up to ``MAX_DEPTH`` segments) into an ``hdrfilm`` with RGBA pixels and a box
  filter, so alpha is the fraction of each pixel's samples that hit a surface.

Brightness, so that the two renderers agree: the rasteriser shades a diffuse point as
``albedo * (ambient + sum_l color_l * cos_l)`` with no falloff over distance. A Lambertian surface of albedo ``a`` lit
by a point light of radiant intensity ``I`` at distance ``d`` has radiance ``a / pi * I cos / d**2``, and under a
constant environment of radiance ``E`` it has ``a * E`` (unoccluded). So the path tracer uses

    I_l = pi * color_l * d_l**2,   d_l = |light position - centre of spec.bounds|,   E = spec.ambient,

which makes both renderers give the same value for a diffuse surface at the centre of the scene, unshadowed (the
rest of the scene differs by the inverse-square falloff, shadows and bounced light). A sphere light of radius ``r``
emits radiance ``I_l / (pi r**2) = color_l * d_l**2 / r**2``, the same intensity as the point light.

Tone mapping: the rasteriser treats colours, textures and its shading sums as display values and writes them
unchanged (clamped to [0, 1]); the path tracer does the same: colours are used as reflectances unchanged and the
pixel radiance is clamped to [0, 1] with no sRGB curve (an identity tone map). A gamma-correct pipeline (decoding
colours with the sRGB transfer function and encoding the radiance with its inverse) would draw a surface that the
rasteriser shades to ``albedo * s`` as ``srgb(linear(albedo) * s)``: up to 0.29 brighter (white at ``s = 0.24``).

Colour in the output is straight (not premultiplied) with alpha the coverage, as the rasteriser's and as
NeRF-synthetic's PNGs; with ``spec.background`` set, the colour is composited over it and alpha is 1 everywhere.
"""

from __future__ import annotations

import math
import subprocess
import sys
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from inverse3d.datasets.scenes.spec import Light, Material, ScenePart, SceneSpec

MAX_DEPTH = 8
"""Longest path in segments (camera ray included): up to 6 bounces of indirect light after the direct one."""

ENVIRONMENT_SAMPLING_WEIGHT = 1e-3
"""Shadow rays seldom go to the constant environment: rays sampled from the BSDF find it with far less noise (for a
diffuse surface each cosine-sampled ray that escapes brings exactly ``albedo * ambient``), and MIS weighs them so."""

LLVM_VARIANT = "llvm_ad_rgb"
SCALAR_VARIANT = "scalar_rgb"
PROBE_TIMEOUT_S = 300.0

_MISSING = "render_pathtraced needs Mitsuba 3, the optional 'photoreal' extra: pip install -e .[photoreal]"


def _mitsuba():
    """The ``mitsuba`` module, or a one-line ImportError naming the extra."""
    try:
        import mitsuba
    except ImportError:
        raise ImportError(_MISSING) from None
    return mitsuba


@lru_cache(maxsize=1)
def llvm_variant_works() -> bool:
    """Whether Mitsuba's ``llvm_ad_rgb`` variant renders on this machine.

    Dr.Jit finds the system's libLLVM at run time; when there is none the variant cannot start, and with an LLVM that
    is too old for Dr.Jit's code (LLVM 15 cannot select ``llvm.minimum``, for one) it aborts the whole process. So
    the check renders a tiny scene with every plugin ``render_pathtraced`` uses in a child process, once per process.
    """
    mi = _mitsuba()
    if LLVM_VARIANT not in mi.variants():
        return False
    try:
        import drjit

        if not drjit.detail.llvm_version():
            return False
    except Exception:
        return False
    code = f"from {__name__} import _probe; _probe({LLVM_VARIANT!r})"
    try:
        done = subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _probe(variant: str) -> None:
    """Renders a 4x4 image of a scene with all the plugins we use (for ``llvm_variant_works``'s child process)."""
    quad = np.array([[-1, 0, -1], [1, 0, -1], [1, 0, 1], [-1, 0, 1]], np.float32)
    faces = np.array([[0, 2, 1], [0, 3, 2]], np.int64)
    colors = np.full((4, 3), 0.5, np.float32)
    varying = np.linspace(0.1, 0.9, 12, dtype=np.float32).reshape(4, 3)
    uvs = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    parts = [
        ScenePart("d", quad, faces, varying, Material("diffuse")),
        ScenePart("g", quad + [0, 0.5, 0], faces, colors, Material("glossy", 0.2), uvs, np.ones((2, 2, 3), np.float32)),
        ScenePart("p", quad + [0, 0.75, 0], faces, varying, Material("glossy", 0.2)),
        ScenePart("m", quad + [0, 1.0, 0], faces, colors, Material("metal", 0.3)),
    ]
    spec = SceneSpec("probe", parts, [Light((0, 3, 0)), Light((2, 3, 0), radius=0.2)], background=(1, 1, 1))
    c2w = np.array([[[1, 0, 0, 0], [0, 0, 1, 4], [0, -1, 0, 0], [0, 0, 0, 1]]], np.float32)
    render_pathtraced(spec, c2w, 0.8, 4, spp=2, progress=False, variant=variant)


def default_variant() -> str:
    """``llvm_ad_rgb`` where it works (``llvm_variant_works``), else ``scalar_rgb`` (no LLVM needed)."""
    return LLVM_VARIANT if llvm_variant_works() else SCALAR_VARIANT


def _buffer(like: Any, values: np.ndarray):
    """``values`` flattened into the Dr.Jit array type of ``like`` (a mesh buffer of the active variant)."""
    return type(like)(np.ascontiguousarray(values).ravel())


def _albedo(mi, part: ScenePart) -> dict:
    """The texture dict of a part's base colour: its UV texture when it has one (and UVs), else its vertex colours
    (one ``rgb`` value when they are all the same, the ``vertex_color`` mesh attribute otherwise)."""
    if part.texture is not None and part.uvs is not None:
        tex = np.ascontiguousarray(np.clip(np.asarray(part.texture, np.float32), 0.0, 1.0))
        if tex.ndim != 3 or tex.shape[2] != 3:
            raise ValueError(f"part {part.name!r}: texture must be (H, W, 3); got {tex.shape}")
        # raw: the values are reflectances as given (no sRGB decoding; see the module docstring)
        return {"type": "bitmap", "bitmap": mi.Bitmap(tex), "raw": True, "filter_type": "bilinear",
                "wrap_mode": "clamp"}
    colors = np.clip(np.asarray(part.colors, np.float64).reshape(-1, 3), 0.0, 1.0)
    if len(colors) and np.ptp(colors, axis=0).max() == 0:
        return {"type": "rgb", "value": colors[0].tolist()}
    return {"type": "mesh_attribute", "name": "vertex_color"}


def _bsdf(mi, part: ScenePart) -> dict:
    """The part's BSDF dict (module docstring), two-sided."""
    material = part.material
    albedo = _albedo(mi, part)
    alpha = float(material.roughness)
    if material.kind != "diffuse" and not 0.0 < alpha <= 1.0:
        raise ValueError(f"part {part.name!r}: material roughness must be in (0, 1]; got {alpha}")
    if material.kind == "diffuse":
        inner = {"type": "diffuse", "reflectance": albedo}
    elif material.kind == "glossy" and albedo["type"] != "mesh_attribute":
        inner = {"type": "roughplastic", "distribution": "ggx", "alpha": alpha, "diffuse_reflectance": albedo}
    elif material.kind == "glossy":
        # roughplastic needs the mean of its diffuse texture, which a mesh attribute cannot give; the principled
        # BSDF with no metal and specular 0.5 (IOR 1.5, roughplastic's is 1.49) is the closest plastic it has; its
        # roughness is the square root of the GGX alpha
        inner = {"type": "principled", "base_color": albedo, "metallic": 0.0, "specular": 0.5,
                 "roughness": math.sqrt(alpha)}
    elif material.kind == "metal":
        # material "none": a perfect mirror (eta 0, k 1) whose reflectance is the part's colour
        inner = {"type": "roughconductor", "material": "none", "distribution": "ggx", "alpha": alpha,
                 "specular_reflectance": albedo}
    else:
        raise ValueError(f"part {part.name!r}: unknown material kind {material.kind!r}")
    return {"type": "twosided", "material": inner}


def _mesh(mi, part: ScenePart):
    """An ``mi.Mesh`` of one part: positions, faces, vertex colours, UVs (v flipped: Mitsuba's v runs down the
    texture, ours up as in OBJ), smooth vertex normals and the part's BSDF."""
    verts = np.asarray(part.verts, np.float32)
    faces = np.asarray(part.faces, np.int64)
    if verts.ndim != 2 or verts.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"part {part.name!r}: verts must be (V, 3) and faces (F, 3); got {verts.shape} and "
                         f"{faces.shape}")
    if len(faces) and (faces.min() < 0 or faces.max() >= len(verts)):
        raise ValueError(f"part {part.name!r}: face index out of range for {len(verts)} vertices")
    colors = np.asarray(part.colors, np.float32)
    if colors.shape != verts.shape:
        raise ValueError(f"part {part.name!r}: colors must be (V, 3) = {verts.shape}; got {colors.shape}")
    colors = np.clip(colors, 0.0, 1.0)
    textured = part.texture is not None and part.uvs is not None
    props = mi.Properties()
    props["bsdf"] = mi.load_dict(_bsdf(mi, part))
    mesh = mi.Mesh(part.name, len(verts), len(faces), props, True, textured)
    params = mi.traverse(mesh)
    params["vertex_positions"] = _buffer(params["vertex_positions"], verts)
    params["faces"] = _buffer(params["faces"], faces.astype(np.uint32))
    if textured:
        uvs = np.asarray(part.uvs, np.float32).reshape(len(verts), 2)
        params["vertex_texcoords"] = _buffer(params["vertex_texcoords"], np.stack([uvs[:, 0], 1 - uvs[:, 1]], 1))
    params.update()
    mesh.recompute_vertex_normals()
    mesh.add_attribute("vertex_color", 3, _buffer(params["vertex_positions"], colors))
    return mesh


def light_intensity(light: Light, spec: SceneSpec) -> np.ndarray:
    """(3,) radiant intensity of ``light`` in the path tracer: ``pi * color * d**2`` (module docstring)."""
    lo, hi = spec.bounds
    d = float(np.linalg.norm(np.asarray(light.position, np.float64) - (lo + hi) / 2))
    return math.pi * np.asarray(light.color, np.float64) * d * d


def _emitter(light: Light, spec: SceneSpec) -> dict:
    intensity = light_intensity(light, spec)
    position = [float(x) for x in light.position]
    if light.radius < 0:
        raise ValueError(f"light at {light.position}: radius must be >= 0; got {light.radius}")
    weight = _sampling_weight(light.color)
    if light.radius == 0:
        return {"type": "point", "position": position, "intensity": {"type": "rgb", "value": intensity.tolist()},
                "sampling_weight": weight}
    radiance = intensity / (math.pi * light.radius**2)
    # a null BSDF: the sphere emits but neither reflects nor shows as a surface (alpha) where a camera sees it
    return {"type": "sphere", "center": position, "radius": float(light.radius), "bsdf": {"type": "null"},
            "emitter": {"type": "area", "radiance": {"type": "rgb", "value": radiance.tolist()},
                        "sampling_weight": weight}}


def _sampling_weight(color: Any) -> float:
    """How often Mitsuba picks a light for a shadow ray (it picks one per bounce): in proportion to the irradiance
    the light brings to the scene's centre, ``pi * color`` by the calibration above."""
    return max(float(np.mean(np.asarray(color, np.float64))), 1e-6)


def build_scene(spec: SceneSpec, variant: str | None = None):
    """The Mitsuba scene of ``spec`` without a sensor (module docstring); sets the Mitsuba ``variant``."""
    mi = _set_variant(variant)
    if not spec.parts:
        raise ValueError(f"scene {spec.name!r} has no parts")
    scene: dict[str, Any] = {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": MAX_DEPTH, "hide_emitters": True},
    }
    if spec.ambient > 0:
        scene["environment"] = {"type": "constant", "radiance": {"type": "rgb", "value": [float(spec.ambient)] * 3},
                                "sampling_weight": ENVIRONMENT_SAMPLING_WEIGHT}
    elif spec.ambient < 0:
        raise ValueError(f"scene {spec.name!r}: ambient must be >= 0; got {spec.ambient}")
    for k, part in enumerate(spec.parts):
        if len(part.faces):
            scene[f"part_{k}"] = _mesh(mi, part)
    for k, light in enumerate(spec.lights):
        scene[f"light_{k}"] = _emitter(light, spec)
    return mi.load_dict(scene)


def _set_variant(variant: str | None):
    mi = _mitsuba()
    variant = default_variant() if variant is None else variant
    if variant not in mi.variants():
        raise ValueError(f"Mitsuba variant {variant!r} is not available; this build has {', '.join(mi.variants())}")
    if not variant.endswith("_rgb"):
        raise ValueError(f"render_pathtraced needs an RGB Mitsuba variant (e.g. scalar_rgb); got {variant!r}")
    mi.set_variant(variant)
    return mi


def _sensor(mi, c2w: np.ndarray, camera_angle_x: float, image_size: int, spp: int):
    """A perspective sensor at the OpenGL camera ``c2w`` (4, 4).

    Mitsuba's camera looks along its local +Z with +Y up and +X to the image's left (PyTorch3D's view axes); the
    OpenGL camera looks along its -Z with +X to the right, so ``to_world = c2w @ diag(-1, 1, -1, 1)``.
    """
    to_world = np.asarray(c2w, np.float64) @ np.diag([-1.0, 1.0, -1.0, 1.0])
    return mi.load_dict({
        "type": "perspective",
        "fov": math.degrees(camera_angle_x),
        "fov_axis": "x",
        "near_clip": 1e-3,
        "far_clip": 1e5,
        "to_world": mi.ScalarTransform4f(to_world.tolist()),
        "sampler": {"type": "independent", "sample_count": int(spp)},
        "film": {"type": "hdrfilm", "width": int(image_size), "height": int(image_size), "pixel_format": "rgba",
                 "rfilter": {"type": "box"}},
    })


def _check_views(c2w: Any, camera_angle_x: float, image_size: int, spp: int) -> np.ndarray:
    from inverse3d.datasets.scenes.conventions import rigid_problem

    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(f"image_size must be a positive int; got {image_size!r}")
    if isinstance(spp, bool) or not isinstance(spp, (int, np.integer)) or spp < 1:
        raise ValueError(f"spp must be a positive int; got {spp!r}")
    if not (isinstance(camera_angle_x, (int, float, np.floating)) and 0.0 < camera_angle_x < math.pi):
        raise ValueError(f"camera_angle_x must be in (0, pi) radians; got {camera_angle_x!r}")
    m = np.asarray(c2w.detach().cpu() if torch.is_tensor(c2w) else c2w, dtype=np.float64)
    if m.ndim != 3 or m.shape[1:] != (4, 4):
        raise ValueError(f"c2w must have shape (N, 4, 4); got {m.shape}")
    for i in range(len(m)):
        problem = rigid_problem(m[i, :3, :3])
        if problem is not None:
            raise ValueError(f"c2w[{i}]: {problem}")
    return m


def render_pathtraced(
    spec: SceneSpec,
    c2w: Any,
    camera_angle_x: float,
    image_size: int,
    spp: int = 64,
    progress: bool = True,
    variant: str | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Path traces ``spec`` from each camera with Mitsuba 3 (module docstring).

    Args:
        spec: the scene.
        c2w: (N, 4, 4) OpenGL camera-to-world matrices (tensor or array), in ``spec``'s world frame.
        camera_angle_x: horizontal field of view in radians (square images: the vertical one too).
        image_size: H = W in pixels.
        spp: samples per pixel (noise falls as 1 / sqrt(spp)).
        progress: show a tqdm bar over the views.
        variant: Mitsuba variant; None picks ``llvm_ad_rgb`` where it works, else ``scalar_rgb``
            (``default_variant``).
        seed: view i is rendered with Mitsuba's sampler seed ``seed + i`` (mod 2**32), so renders repeat exactly;
            callers that render a long list in batches pass each batch's own seed, so that the noise does not repeat.

    Returns:
        (N, H, W, 4) float32 CPU tensor in [0, 1]: straight RGB and coverage alpha (with ``spec.background``, the
        colour composited over it and alpha 1), pixel (0, 0) at the top left.
    """
    from tqdm.auto import tqdm

    m = _check_views(c2w, camera_angle_x, image_size, spp)
    scene = build_scene(spec, variant)
    mi = _mitsuba()
    out = np.zeros((len(m), int(image_size), int(image_size), 4), np.float32)
    for i in tqdm(range(len(m)), desc=f"path tracing {spec.name}", unit="view", disable=not progress or len(m) == 0):
        sensor = _sensor(mi, m[i], float(camera_angle_x), int(image_size), int(spp))
        out[i] = np.asarray(mi.render(scene, sensor=sensor, spp=int(spp), seed=(int(seed) + i) % 2**32),
                            dtype=np.float32)
    alpha = np.clip(out[..., 3:], 0.0, 1.0)
    # the film averages samples, misses counting as colour 0: colour is premultiplied by coverage
    rgb = np.where(alpha > 0, out[..., :3] / np.maximum(alpha, 1e-8), 0.0).clip(0.0, 1.0)
    if spec.background is not None:
        rgb = rgb * alpha + np.asarray(spec.background, np.float32) * (1 - alpha)
        alpha = np.ones_like(alpha)
    return torch.from_numpy(np.concatenate([rgb, alpha], axis=-1).astype(np.float32))
