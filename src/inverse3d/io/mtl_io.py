"""MTL material libraries (PyTorch3D's ``io.mtl_io``): reflectivities and texture images of OBJ materials, and
the per-face texture atlas (``TexturesAtlas``) built from them.

``load_mtl`` reads one library with ``obj_io``'s parser and returns PyTorch3D's dictionaries.
``make_mesh_texture_atlas`` / ``make_material_atlas`` build the (F, R, R, 3) per-face maps of ``TexturesAtlas``
(SoftRas's texture atlas) as PyTorch3D does.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F

from inverse3d.io.utils import local_path

# material name -> {"ambient_color": (3,), "diffuse_color": (3,), "specular_color": (3,), "shininess": (1,)}
MaterialProperties = Dict[str, Dict[str, torch.Tensor]]
# material name -> texture file name as written after map_Kd
TextureFiles = Dict[str, str]
# material name -> (H, W, 3) image in [0, 1]
TextureImages = Dict[str, torch.Tensor]


def load_mtl(
    f: Any,
    *,
    material_names: list[str],
    data_dir: Any,
    device: str | torch.device = "cpu",
    path_manager: Any = None,
    allow_external_files: bool = False,
    max_texture_pixels: Optional[int] = None,
) -> tuple[MaterialProperties, TextureImages]:
    """Reflectivities (Ka, Kd, Ks, Ns) and texture images (map_Kd) of the materials an OBJ uses.

    Texture file names are resolved inside ``data_dir`` as the OBJ loader resolves them
    (``inverse3d.io.references``): a name leading outside it (an absolute path, ``..``, a symbolic link out) is
    refused with a warning unless ``allow_external_files``.

    Args:
        f: the MTL file.
        material_names: the materials the OBJ uses; when it uses none and the library defines exactly one, that
            one is taken.
        data_dir: folder that texture file names are relative to.
        device: where the reflectivities go (images stay on the CPU, as in PyTorch3D).
        path_manager: optional iopath-style path manager (see ``inverse3d.io.utils.local_path``).
        allow_external_files: read texture images outside ``data_dir``.
        max_texture_pixels: pixel budget of a texture image (``inverse3d.io.images``); a larger one is skipped.
    Returns:
        (material_properties, texture_images) for the used materials that the library defines.
    Raises:
        ValueError: no material is used and the library defines several; MeshFileError for a malformed MTL.
        A texture image that is missing, outside ``data_dir``, too large or unreadable is skipped with a warning.
    """
    from inverse3d.io import images
    from inverse3d.io.errors import MeshFileError
    from inverse3d.io.obj_io import parse_mtl
    from inverse3d.io.references import EXTERNAL_HINT, resolve_reference

    props, texture_files = parse_mtl(Path(local_path(f, path_manager)))
    used = list(material_names)
    if not used and props:
        if len(props) > 1:
            raise ValueError("Multiple materials but no usemtl declarations in the obj file")
        used.append(next(iter(props)))
    folder = Path(local_path(os.fspath(data_dir), path_manager))
    properties: MaterialProperties = {}
    texture_images: TextureImages = {}
    for name in used:
        if name in texture_files:
            path, _ = resolve_reference(folder, folder, texture_files[name], allow_external_files)
            if path is None:
                warnings.warn(f"Texture file {texture_files[name]!r} of material {name!r} is outside {folder}; "
                              f"refused ({EXTERNAL_HINT})", stacklevel=2)
            elif not path.is_file():
                warnings.warn(f"Texture file does not exist: {path}", stacklevel=2)
            else:
                try:
                    texture_images[name] = images.read_image(path, max_texture_pixels)
                except images.ImageTooLargeError as err:
                    warnings.warn(f"Texture file {path} of material {name!r} skipped: {err.problem}", stacklevel=2)
                except MeshFileError as err:
                    warnings.warn(f"Texture file {path} of material {name!r} skipped: {err.problem}", stacklevel=2)
        if name in props:
            properties[name] = {k: torch.as_tensor(v).to(device) for k, v in props[name].items()}
    return properties, texture_images


# ---------------------------------------------------------------------------------------------------------------
# Texture atlas: an R x R map per face (SoftRas), PyTorch3D's construction
# ---------------------------------------------------------------------------------------------------------------


def _atlas_barycentrics(R: int, device: Any = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(R, R, 3) barycentric coordinates of the centroid of the small triangle that cell (y, x) stands for.

    The face is cut into R * R small triangles by lines parallel to its edges. Cell (y, x) with x + y < R holds the
    triangle with corner (w0, w1) = (x, y) / R pointing towards w2 (centroid ((x, y) + 1/3) / R); the cells above
    the diagonal hold the flipped triangles, counted from the far corner (centroid ((R - 1 - (x, y)) + 2/3) / R).
    """
    rng = torch.arange(R, device=device, dtype=dtype)
    y, x = torch.meshgrid(rng, rng, indexing="ij")
    xy = torch.stack([x, y], dim=-1)  # (R, R, 2)
    below = (xy.sum(-1) < R)[..., None]
    w01 = torch.where(below, (xy + 1.0 / 3.0) / R, ((R - 1.0 - xy) + 2.0 / 3.0) / R)
    return torch.cat([w01, 1.0 - w01.sum(-1, keepdim=True)], dim=-1)


def make_material_atlas(image: torch.Tensor, faces_verts_uvs: torch.Tensor, texture_size: int) -> torch.Tensor:
    """Samples an image into an R x R map per face (R = texture_size), for ``TexturesAtlas``.

    Cell (y, x) of face f takes the image at the uv of the centroid of its small triangle (see
    ``TexturesAtlas``): bilinear, ``align_corners=True``, zero outside [0, 1], with the image's first row at
    v = 0 (PyTorch3D passes the image flipped upside down, so that v points up the original image).

    Args:
        image: (H, W, C) float.
        faces_verts_uvs: (F, 3, 2) uv of each face's three corners.
        texture_size: R.
    Returns:
        (F, R, R, C), differentiable with respect to the image and the uvs.
    """
    R = int(texture_size)
    bary = _atlas_barycentrics(R, faces_verts_uvs.device, faces_verts_uvs.dtype)  # (R, R, 3)
    uv = torch.einsum("rsk,fkc->frsc", bary, faces_verts_uvs)  # (F, R, R, 2)
    n = uv.shape[0]
    if n == 0:
        return image.new_zeros((0, R, R, image.shape[-1]))
    img = image.permute(2, 0, 1)[None].to(uv.dtype)  # (1, C, H, W)
    grid = (uv * 2.0 - 1.0).reshape(1, n * R, R, 2)
    out = F.grid_sample(img, grid, mode="bilinear", align_corners=True)  # (1, C, F*R, R), zeros padding
    return out[0].reshape(-1, n, R, R).permute(1, 2, 3, 0)


def make_mesh_texture_atlas(
    material_properties: Dict,
    texture_images: Dict,
    face_material_names: Any,
    faces_uvs: torch.Tensor,
    verts_uvs: torch.Tensor,
    texture_size: int,
    texture_wrap: Optional[str],
) -> torch.Tensor:
    """The (F, R, R, 3) per-face maps of a mesh from its materials (PyTorch3D's rules).

    Every face starts white; faces of a material with a diffuse colour ``Kd`` take it; faces of a material with a
    texture image sample it (``make_material_atlas``). With ``texture_wrap="repeat"`` and any uv outside [0, 1]
    (a warning says so), all uvs are taken modulo 1; with ``"clamp"`` they are clamped to [0, 1]; None leaves them.

    Args:
        material_properties: material name -> {"diffuse_color": (3,), ...}.
        texture_images: material name -> (H, W, 3) image (an alpha channel is dropped).
        face_material_names: (F,) array of each face's material name, "" for none.
        faces_uvs: (F, 3) long index into verts_uvs.
        verts_uvs: (T, 2) uvs (T may be 0: then only the colours apply).
        texture_size: R.
        texture_wrap: "repeat", "clamp" or None.
    Returns:
        (F, R, R, 3) float32.
    """
    R = int(texture_size)
    n_faces = faces_uvs.shape[0]
    device = faces_uvs.device
    atlas = torch.ones((n_faces, R, R, 3), dtype=torch.float32, device=device)
    if not material_properties and not texture_images:
        return atlas
    names = np.asarray(face_material_names)
    for name, props in (material_properties or {}).items():
        sel = torch.from_numpy(names == name).to(device)
        if bool(sel.any()) and "diffuse_color" in props:
            atlas[sel] = props["diffuse_color"].reshape(-1)[:3].to(device=device, dtype=torch.float32)
    if verts_uvs is None or len(verts_uvs) == 0:
        return atlas
    faces_verts_uvs = verts_uvs[faces_uvs]  # (F, 3, 2)
    if texture_wrap == "repeat":
        if bool((faces_verts_uvs > 1).any()) or bool((faces_verts_uvs < 0).any()):
            warnings.warn("Texture UV coordinates outside the range [0, 1]. The integer part will be ignored to "
                          "form a repeating pattern.", stacklevel=2)
            faces_verts_uvs = faces_verts_uvs % 1
    elif texture_wrap == "clamp":
        faces_verts_uvs = faces_verts_uvs.clamp(0.0, 1.0)
    for name, image in (texture_images or {}).items():
        image = image[..., :3]
        image = torch.flip(image, [0]).to(device=device, dtype=faces_verts_uvs.dtype)  # row 0 at v = 0
        sel = torch.from_numpy(names == name).to(device)
        atlas[sel] = make_material_atlas(image, faces_verts_uvs[sel], R).to(atlas.dtype)
    return atlas
