"""``IO``: one object that loads and saves meshes and point clouds in any registered format (PyTorch3D's ``IO``).

    io = IO()
    mesh = io.load_mesh("cow.obj")          # Meshes with one mesh
    io.save_mesh(mesh, "cow.ply")           # the format follows the suffix
    cloud = io.load_pointcloud("scan.ply")  # Pointclouds with one cloud

Formats are interpreters (see ``pluggable_formats``); each registered one is asked in turn, the most recently
registered first, and the first that recognises the path does the work. Registered by default: OBJ, OFF, PLY and
GLB for meshes (PyTorch3D registers GLB only on request), PLY for point clouds.

Path managers (iopath's ``PathManager`` or anything with ``get_local_path``) are accepted: files are read from the
local path they give; files are written to the path as given.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Optional

import torch

from inverse3d.io.experimental_gltf_io import MeshGlbFormat
from inverse3d.io.off_io import MeshOffFormat
from inverse3d.io.pluggable_formats import (
    MeshFormatInterpreter,
    MeshObjFormat,
    MeshPlyFormat,
    PointcloudFormatInterpreter,
    PointcloudPlyFormat,
)
from inverse3d.io.utils import PathOrStr

Device = str | torch.device


class IO:
    """Loads and saves meshes and point clouds by file format.

    Args:
        include_default_formats: register the built-in formats (else only the ones you register are used).
        path_manager: optional iopath-style path manager for reading (see the module docstring).
    """

    def __init__(self, include_default_formats: bool = True, path_manager: Any = None) -> None:
        self.path_manager = path_manager
        self.mesh_interpreters: deque[MeshFormatInterpreter] = deque()
        self.pointcloud_interpreters: deque[PointcloudFormatInterpreter] = deque()
        if include_default_formats:
            self.register_default_formats()

    def register_default_formats(self) -> None:
        """Registers OBJ, OFF, PLY and GLB meshes and PLY point clouds."""
        for interpreter in (MeshGlbFormat(), MeshObjFormat(), MeshOffFormat(), MeshPlyFormat()):
            self.register_meshes_format(interpreter)
        self.register_pointcloud_format(PointcloudPlyFormat())

    def register_meshes_format(self, interpreter: MeshFormatInterpreter) -> None:
        """Adds a mesh format; it is tried before the ones registered earlier.

        Raises:
            ValueError: ``interpreter`` is not a ``MeshFormatInterpreter``.
        """
        if not isinstance(interpreter, MeshFormatInterpreter):
            raise ValueError(f"Invalid interpreter: expected a MeshFormatInterpreter, got {type(interpreter).__name__}")
        self.mesh_interpreters.appendleft(interpreter)

    def register_pointcloud_format(self, interpreter: PointcloudFormatInterpreter) -> None:
        """Adds a point-cloud format; it is tried before the ones registered earlier.

        Raises:
            ValueError: ``interpreter`` is not a ``PointcloudFormatInterpreter``.
        """
        if not isinstance(interpreter, PointcloudFormatInterpreter):
            raise ValueError(
                f"Invalid interpreter: expected a PointcloudFormatInterpreter, got {type(interpreter).__name__}"
            )
        self.pointcloud_interpreters.appendleft(interpreter)

    def load_mesh(self, path: PathOrStr, include_textures: bool = True, device: Device = "cpu", **kwargs: Any):
        """Loads one mesh.

        Args:
            path: the file; its suffix picks the format.
            include_textures: read textures (materials, images, vertex colours) where the format has them.
            device: where the mesh lives.
            kwargs: passed to the format, e.g. ``create_texture_atlas``, ``texture_wrap`` for OBJ.
        Returns:
            ``Meshes`` with one mesh.
        Raises:
            ValueError: no registered format reads ``path``; MeshFileError for unreadable files.
        """
        for interpreter in self.mesh_interpreters:
            mesh = interpreter.read(
                path, include_textures=include_textures, path_manager=self.path_manager, device=device, **kwargs
            )
            if mesh is not None:
                return mesh
        raise ValueError(f"No mesh interpreter found to read {path}.")

    def save_mesh(
        self, data: Any, path: PathOrStr, binary: Optional[bool] = None, include_textures: bool = True, **kwargs: Any
    ) -> None:
        """Saves the single mesh of ``data``.

        Args:
            data: ``Meshes`` holding one mesh.
            path: the file; its suffix picks the format.
            binary: where the format has a choice (PLY), False writes ASCII; None and True write binary.
            include_textures: write textures where the format can hold them (OBJ: TexturesUV as MTL + PNG;
                PLY, OFF: vertex colours; GLB: either).
            kwargs: passed to the format, e.g. ``decimal_places``.
        Raises:
            ValueError: ``data`` is not a ``Meshes`` of one mesh, or no registered format writes ``path``.
        """
        from inverse3d.structures import Meshes

        if not isinstance(data, Meshes):
            raise ValueError(f"Meshes object expected; got {type(data).__name__}")
        if len(data) != 1:
            raise ValueError(f"Can only save a single mesh; got {len(data)}")
        for interpreter in self.mesh_interpreters:
            if interpreter.save(
                data, path, path_manager=self.path_manager, binary=binary, include_textures=include_textures, **kwargs
            ):
                return
        raise ValueError(f"No mesh interpreter found to write to {path}.")

    def load_pointcloud(self, path: PathOrStr, device: Device = "cpu", **kwargs: Any):
        """Loads one point cloud (``Pointclouds`` with one cloud).

        Raises:
            ValueError: no registered format reads ``path``; MeshFileError for unreadable files.
        """
        for interpreter in self.pointcloud_interpreters:
            cloud = interpreter.read(path, path_manager=self.path_manager, device=device, **kwargs)
            if cloud is not None:
                return cloud
        raise ValueError(f"No point cloud interpreter found to read {path}.")

    def save_pointcloud(self, data: Any, path: PathOrStr, binary: Optional[bool] = None, **kwargs: Any) -> None:
        """Saves the single cloud of ``data`` (points, normals, 3-channel features as colours).

        Raises:
            ValueError: ``data`` is not a ``Pointclouds`` of one cloud, or no registered format writes ``path``.
        """
        from inverse3d.structures import Pointclouds

        if not isinstance(data, Pointclouds):
            raise ValueError(f"Pointclouds object expected; got {type(data).__name__}")
        if len(data) != 1:
            raise ValueError(f"Can only save a single point cloud; got {len(data)}")
        for interpreter in self.pointcloud_interpreters:
            if interpreter.save(data, path, path_manager=self.path_manager, binary=binary, **kwargs):
                return
        raise ValueError(f"No point cloud interpreter found to write to {path}.")
