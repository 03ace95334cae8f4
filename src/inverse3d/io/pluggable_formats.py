"""The interpreter interface of ``IO`` and the interpreters for OBJ and PLY (PyTorch3D's ``io.pluggable_formats``).

An interpreter reads (or writes) one file format. ``read`` returns None and ``save`` returns False for a path whose
suffix is not theirs, so ``IO`` can ask each registered interpreter in turn. The interpreters here are thin: they
call ``load_objs_as_meshes`` / ``save_obj`` and ``read_ply`` / ``save_ply`` / ``load_pointcloud``.
"""

from __future__ import annotations

import pathlib
import warnings
from typing import Any, Optional

import torch

from inverse3d.io.utils import PathOrStr, local_path

Device = str | torch.device


def endswith(path: Any, suffixes: tuple[str, ...]) -> bool:
    """Whether ``path`` ends with one of ``suffixes`` (case-insensitive); True for anything that is not a path
    (a file object), so that streams are offered to every interpreter."""
    if isinstance(path, pathlib.Path):
        return path.suffix.lower() in suffixes
    if isinstance(path, str):
        return path.lower().endswith(suffixes)
    return True


class MeshFormatInterpreter:
    """Base class of an interpreter that reads or writes meshes in one format."""

    def read(
        self, path: PathOrStr, include_textures: bool, device: Device, path_manager: Any, **kwargs: Any
    ) -> Optional[Any]:
        """The mesh in ``path`` as a one-mesh ``Meshes``, or None if ``path`` is not in this format."""
        raise NotImplementedError()

    def save(self, data: Any, path: PathOrStr, path_manager: Any, binary: Optional[bool], **kwargs: Any) -> bool:
        """Writes the one mesh of ``data`` to ``path``; False if ``path`` is not in this format, True once written."""
        raise NotImplementedError()


class PointcloudFormatInterpreter:
    """Base class of an interpreter that reads or writes point clouds in one format."""

    def read(self, path: PathOrStr, device: Device, path_manager: Any, **kwargs: Any) -> Optional[Any]:
        """The cloud in ``path`` as a one-cloud ``Pointclouds``, or None if ``path`` is not in this format."""
        raise NotImplementedError()

    def save(self, data: Any, path: PathOrStr, path_manager: Any, binary: Optional[bool], **kwargs: Any) -> bool:
        """Writes the one cloud of ``data`` to ``path``; False if ``path`` is not in this format, True once written."""
        raise NotImplementedError()


def _one_mesh_arrays(data: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(verts (V, 3), faces (F, 3)) of the single mesh of ``data``."""
    return data.verts_list()[0], data.faces_list()[0]


def _vertex_colours(textures: Any, fmt: str) -> Optional[torch.Tensor]:
    """(V, 3) colours of a one-mesh ``TexturesVertex`` with 3 channels, else None (warning for other channel
    counts, as PyTorch3D does)."""
    from inverse3d.renderer.mesh.textures import TexturesVertex

    if not isinstance(textures, TexturesVertex):
        return None
    colours = textures.verts_features_list()[0]
    if colours.shape[1] != 3:
        warnings.warn(f"Texture will not be saved to {fmt} as it has {colours.shape[1]} colors, not 3.", stacklevel=3)
        return None
    return colours


class MeshObjFormat(MeshFormatInterpreter):
    """OBJ (+ MTL and texture images) through ``load_objs_as_meshes`` and ``save_obj``."""

    def __init__(self) -> None:
        self.known_suffixes = (".obj",)

    def read(
        self,
        path: PathOrStr,
        include_textures: bool,
        device: Device,
        path_manager: Any,
        create_texture_atlas: bool = False,
        texture_atlas_size: int = 4,
        texture_wrap: Optional[str] = "repeat",
        **kwargs: Any,
    ):
        if not endswith(path, self.known_suffixes):
            return None
        from inverse3d.io.obj_io import load_objs_as_meshes

        options = {k: kwargs[k] for k in ("allow_external_files", "max_texture_pixels") if k in kwargs}
        return load_objs_as_meshes(
            [local_path(path, path_manager)],
            device=device,
            load_textures=include_textures,
            create_texture_atlas=create_texture_atlas,
            texture_atlas_size=texture_atlas_size,
            texture_wrap=texture_wrap,
            **options,
        )

    def save(
        self,
        data: Any,
        path: PathOrStr,
        path_manager: Any,
        binary: Optional[bool],
        decimal_places: Optional[int] = None,
        include_textures: bool = True,
        **kwargs: Any,
    ) -> bool:
        if not endswith(path, self.known_suffixes):
            return False
        from inverse3d.io.obj_io import save_obj
        from inverse3d.renderer.mesh.textures import TexturesUV

        verts, faces = _one_mesh_arrays(data)
        uv: dict[str, torch.Tensor] = {}
        if include_textures and isinstance(data.textures, TexturesUV):
            uv = {
                "verts_uvs": data.textures.verts_uvs_padded()[0],
                "faces_uvs": data.textures.faces_uvs_padded()[0],
                "texture_map": data.textures.maps_padded()[0],
            }
        save_obj(path, verts, faces, decimal_places=decimal_places, **uv)
        return True


class MeshPlyFormat(MeshFormatInterpreter):
    """PLY meshes (vertex colours as ``TexturesVertex``, vertex normals kept) through ``read_ply`` / ``save_ply``."""

    def __init__(self) -> None:
        self.known_suffixes = (".ply",)

    def read(self, path: PathOrStr, include_textures: bool, device: Device, path_manager: Any, **kwargs: Any):
        if not endswith(path, self.known_suffixes):
            return None
        from inverse3d.io.ply_io import read_ply
        from inverse3d.renderer.mesh.textures import TexturesVertex
        from inverse3d.structures import Meshes

        ply = read_ply(local_path(path, path_manager))

        def tensor(x: Any, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(x).to(device=device, dtype=dtype)

        verts = tensor(ply["verts"], torch.float32)
        faces = tensor(ply["faces"], torch.int64).reshape(-1, 3)
        textures = None
        if include_textures and ply["colors"] is not None:
            textures = TexturesVertex([tensor(ply["colors"], torch.float32)])
        normals = None if ply["normals"] is None else [tensor(ply["normals"], torch.float32)]
        return Meshes(verts=[verts], faces=[faces], textures=textures, verts_normals=normals)

    def save(
        self,
        data: Any,
        path: PathOrStr,
        path_manager: Any,
        binary: Optional[bool],
        decimal_places: Optional[int] = None,
        include_textures: bool = True,
        **kwargs: Any,
    ) -> bool:
        if not endswith(path, self.known_suffixes):
            return False
        from inverse3d.io.ply_io import save_ply

        verts, faces = _one_mesh_arrays(data)
        normals = data.verts_normals_list()[0] if data.has_verts_normals() else None
        colours = _vertex_colours(data.textures, "PLY") if include_textures else None
        save_ply(path, verts, faces, verts_normals=normals, ascii=binary is False, decimal_places=decimal_places,
                 colors=colours)
        return True


class PointcloudPlyFormat(PointcloudFormatInterpreter):
    """PLY point clouds: colours as 3-channel features, normals kept."""

    def __init__(self) -> None:
        self.known_suffixes = (".ply",)

    def read(self, path: PathOrStr, device: Device, path_manager: Any, **kwargs: Any):
        if not endswith(path, self.known_suffixes):
            return None
        from inverse3d.io.ply_io import load_pointcloud

        return load_pointcloud(local_path(path, path_manager), device=device)

    def save(
        self,
        data: Any,
        path: PathOrStr,
        path_manager: Any,
        binary: Optional[bool],
        decimal_places: Optional[int] = None,
        **kwargs: Any,
    ) -> bool:
        if not endswith(path, self.known_suffixes):
            return False
        from inverse3d.io.ply_io import save_ply

        points = data.points_list()[0]
        normals = data.normals_packed()
        features = data.features_packed()
        if features is not None and features.shape[1] != 3:
            warnings.warn(f"Features will not be saved to PLY as they have {features.shape[1]} channels, not 3 "
                          "(colours).", stacklevel=3)
            features = None
        save_ply(path, points, None, verts_normals=normals, ascii=binary is False, decimal_places=decimal_places,
                 colors=features)
        return True
