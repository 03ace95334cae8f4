"""GLB / glTF meshes for ``IO`` (PyTorch3D's ``io.experimental_gltf_io``).

Reading goes through ``load_glb`` (the default scene joined into one mesh, node transforms applied, a texture
image as ``TexturesUV`` or vertex / material colours as ``TexturesVertex``). Writing builds one trimesh mesh and
exports it as GLB: a ``TexturesUV`` mesh gets one vertex per distinct (position, UV) pair, since glTF stores UVs
per vertex; ``TexturesVertex`` colours become vertex colours (quantised to 8 bits).

Unlike PyTorch3D's, ``IO()`` registers this format by default, reads ``.gltf`` as well as ``.glb``, and
``load_meshes`` returns the joined scene as a single ``(None, mesh)`` pair.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from inverse3d.io.pluggable_formats import MeshFormatInterpreter, endswith
from inverse3d.io.utils import PathOrStr, local_path

Device = str | torch.device


def load_meshes(path: PathOrStr, path_manager: Any = None, include_textures: bool = True) -> list:
    """The meshes of a GLB file as ``[(name, Meshes)]``: here one pair, ``(None, the joined scene)``."""
    from inverse3d.io.gltf_io import load_glb

    mesh = load_glb(local_path(path, path_manager))
    if not include_textures:
        mesh = _without_textures(mesh)
    return [(None, mesh)]


def _without_textures(mesh: Any) -> Any:
    from inverse3d.structures import Meshes

    return Meshes(verts=mesh.verts_list(), faces=mesh.faces_list())


def save_glb(f: Any, mesh: Any, include_textures: bool = True) -> None:
    """Writes the first mesh of ``mesh`` (a ``Meshes``) as a binary glTF file.

    Args:
        f: path or binary file object.
        mesh: a ``Meshes``; its first mesh is written, with its ``TexturesUV`` map (first map) or
            ``TexturesVertex`` colours (3 or 4 channels in [0, 1]) when ``include_textures``.
    """
    import trimesh
    from PIL import Image

    from inverse3d.renderer.mesh.textures import TexturesUV, TexturesVertex

    verts = mesh.verts_list()[0].detach().cpu().to(torch.float64).numpy()  # (V, 3)
    faces = mesh.faces_list()[0].detach().cpu().numpy().astype(np.int64)  # (F, 3)
    textures = mesh.textures if include_textures else None
    visual = None
    if isinstance(textures, TexturesUV):
        verts_uvs = textures.verts_uvs_list()[0].detach().cpu().to(torch.float64).numpy()  # (T, 2)
        faces_uvs = textures.faces_uvs_list()[0].detach().cpu().numpy().astype(np.int64)  # (F, 3)
        pairs = np.stack((faces.reshape(-1), faces_uvs.reshape(-1)), 1)  # (3F, 2) (vertex, uv) per corner
        unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
        verts, uv = verts[unique[:, 0]], verts_uvs[unique[:, 1]]
        faces = inverse.reshape(-1, 3)
        image = textures.maps_padded()[0].detach().cpu().clamp(0, 1)[..., :3]
        pixels = (image.numpy() * 255.0 + 0.5).astype(np.uint8)
        # an explicit white base colour: trimesh's default material would darken the texture (diffuse 0.4)
        material = trimesh.visual.material.PBRMaterial(
            baseColorTexture=Image.fromarray(pixels), baseColorFactor=[255, 255, 255, 255]
        )
        visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    elif isinstance(textures, TexturesVertex) and textures.verts_features_list()[0].shape[1] in (3, 4):
        colours = textures.verts_features_list()[0].detach().cpu().clamp(0, 1).numpy()
        visual = trimesh.visual.ColorVisuals(vertex_colors=(colours * 255.0 + 0.5).astype(np.uint8))
    tri = trimesh.Trimesh(vertices=verts, faces=faces, visual=visual, process=False)
    payload = tri.export(file_type="glb")
    if isinstance(f, (str, os.PathLike)):
        Path(f).write_bytes(payload)
    else:
        f.write(payload)


class MeshGlbFormat(MeshFormatInterpreter):
    """GLB (and, for reading, glTF) meshes through ``load_glb`` and ``save_glb``."""

    def __init__(self) -> None:
        self.known_suffixes = (".glb",)
        self.read_suffixes = (".glb", ".gltf")

    def read(self, path: PathOrStr, include_textures: bool, device: Device, path_manager: Any, **kwargs: Any):
        if not endswith(path, self.read_suffixes):
            return None
        from inverse3d.io.gltf_io import load_glb

        options = {k: kwargs[k] for k in ("allow_external_files", "max_texture_pixels") if k in kwargs}
        mesh = load_glb(local_path(path, path_manager), device=device, **options)
        return mesh if include_textures else _without_textures(mesh)

    def save(
        self,
        data: Any,
        path: PathOrStr,
        path_manager: Any,
        binary: Optional[bool],
        include_textures: bool = True,
        **kwargs: Any,
    ) -> bool:
        if not endswith(path, self.known_suffixes):
            return False
        save_glb(path, data, include_textures=include_textures)
        return True
