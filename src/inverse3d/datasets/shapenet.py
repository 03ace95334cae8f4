"""A reader of a local copy of ShapeNetCore v1 or v2 (PyTorch3D's ``ShapeNetCore``).

Layout read: ``data_dir/<synset id>/<model id>/model.obj`` (v1) or ``.../models/model_normalized.obj`` (v2).
The synset id -> label tables of both versions are in ``shapenet_synsets.json``.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import torch

_SYNSETS_FILE = Path(__file__).with_name("shapenet_synsets.json")


def shapenet_synsets(version: int) -> dict[str, str]:
    """{synset id: label} of ShapeNetCore ``version`` (1: 57 categories, 2: 55)."""
    if version not in (1, 2):
        raise ValueError("Version number must be either 1 or 2.")
    return json.loads(_SYNSETS_FILE.read_text())[str(version)]


class ShapeNetBase(torch.utils.data.Dataset):
    """Model bookkeeping shared by ShapeNet readers: ids per index, per-synset ranges, mesh loading, rendering."""

    def __init__(self) -> None:
        self.synset_ids: list[str] = []
        self.model_ids: list[str] = []
        self.synset_inv: dict[str, str] = {}
        self.synset_start_idxs: dict[str, int] = {}
        self.synset_num_models: dict[str, int] = {}
        self.shapenet_dir = ""
        self.model_dir = "model.obj"
        self.load_textures = True
        self.texture_resolution = 4

    def __len__(self) -> int:
        return len(self.model_ids)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        raise NotImplementedError("__getitem__ should be implemented in the child class of ShapeNetBase")

    def _get_item_ids(self, idx: int) -> dict[str, Any]:
        return {"synset_id": self.synset_ids[idx], "model_id": self.model_ids[idx]}

    def _load_mesh(self, model_path: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """verts (V, 3), faces (F, 3) int64 and, with load_textures, an (F, R, R, 3) atlas (white without maps)."""
        from inverse3d.io import load_obj

        verts, faces, aux = load_obj(
            model_path,
            load_textures=self.load_textures,
            create_texture_atlas=self.load_textures,
            texture_atlas_size=self.texture_resolution,
            allow_external_files=True,
        )
        textures = None
        if self.load_textures:
            textures = aux.texture_atlas
            if textures is None:  # no materials: a white map per face
                r = self.texture_resolution
                textures = verts.new_ones(faces.verts_idx.shape[0], r, r, 3)
        return verts, faces.verts_idx, textures

    def _sample_idxs_from_category(self, sample_num: int = 1, category: str | None = None) -> torch.Tensor:
        """(sample_num,) int64 random indices of models of ``category`` (all models when None)."""
        start = self.synset_start_idxs[category] if category is not None else 0
        count = self.synset_num_models[category] if category is not None else len(self)
        replacement = sample_num > count
        if replacement:
            where = f"category {category}" if category is not None else "all categories"
            warnings.warn(f"Sample size {sample_num} is larger than the number of objects in {where}, "
                          "values sampled with replacement.", stacklevel=3)
        return torch.multinomial(torch.ones(count), sample_num, replacement=replacement) + start

    def _handle_render_inputs(
        self,
        model_ids: Sequence[str] | None = None,
        categories: Sequence[str] | None = None,
        sample_nums: Sequence[int] | None = None,
        idxs: Sequence[int] | None = None,
    ) -> list[int]:
        """Indices of the models chosen by model ids, else by categories (random samples), else idxs, else random."""
        if model_ids:
            missing = [m for m in model_ids if m not in self.model_ids]
            if missing:
                raise ValueError(f"model_id {missing[0]} not found in the loaded dataset.")
            return [self.model_ids.index(m) for m in model_ids]
        if categories:
            sample_nums = [1] if sample_nums is None else list(sample_nums)
            if len(sample_nums) not in (1, len(categories)):
                raise ValueError("categories and sample_nums needs to be of the same length or "
                                 "sample_nums needs to be of length 1.")
            chosen = []
            for i, category in enumerate(categories):
                synset = self.synset_inv.get(category, category)
                if synset not in self.synset_inv.values():
                    raise ValueError(f"Category {category} is not in the loaded dataset.")
                n = sample_nums[i] if len(sample_nums) > 1 else sample_nums[0]
                chosen += self._sample_idxs_from_category(n, synset).tolist()
            return chosen
        if idxs:
            if any(i < 0 or i >= len(self) for i in idxs):
                raise IndexError(f"One or more idx values are out of bounds. Indices need to be between 0 "
                                 f"and {len(self) - 1}.")
            return list(idxs)
        sample_nums = [1] if sample_nums is None else list(sample_nums)
        if len(sample_nums) > 1:
            warnings.warn(f"More than one sample sizes specified, now sampling {sample_nums[0]} models from the "
                          "dataset.", stacklevel=3)
        return self._sample_idxs_from_category(sample_nums[0]).tolist()

    def render(
        self,
        model_ids: Sequence[str] | None = None,
        categories: Sequence[str] | None = None,
        sample_nums: Sequence[int] | None = None,
        idxs: Sequence[int] | None = None,
        shader_type=None,
        device="cpu",
        **kwargs: Any,
    ) -> torch.Tensor:
        """Renders the chosen models (see ``_handle_render_inputs``) as PyTorch3D's ``ShapeNetBase.render``.

        Args:
            shader_type: a shader class (default ``HardPhongShader``).
            **kwargs: ``cameras`` (default ``FoVPerspectiveCameras()``; C cameras render each of the M models C/M
                times), ``raster_settings``, ``lights``.
        Returns:
            (N, H, W, 4) float images.
        """
        from inverse3d.datasets.utils import collate_batched_meshes
        from inverse3d.renderer import (FoVPerspectiveCameras, HardPhongShader, MeshRasterizer, MeshRenderer,
                                        PointLights, RasterizationSettings, TexturesVertex)

        shader_type = HardPhongShader if shader_type is None else shader_type
        chosen = self._handle_render_inputs(model_ids, categories, sample_nums, idxs)
        meshes = collate_batched_meshes([self[i] for i in chosen])["mesh"]
        if meshes.textures is None:
            meshes.textures = TexturesVertex(verts_features=torch.ones_like(meshes.verts_padded()))
        meshes = meshes.to(device)
        cameras = kwargs.get("cameras", FoVPerspectiveCameras()).to(device)
        if len(cameras) != 1 and len(cameras) % len(meshes) != 0:
            raise ValueError("Mismatch between batch dims of cameras and meshes.")
        if len(cameras) > 1:
            meshes = meshes.extend(len(cameras) // len(meshes))
        renderer = MeshRenderer(
            rasterizer=MeshRasterizer(cameras=cameras,
                                      raster_settings=kwargs.get("raster_settings", RasterizationSettings())),
            shader=shader_type(device=device, cameras=cameras, lights=kwargs.get("lights", PointLights()).to(device)),
        )
        return renderer(meshes)


class ShapeNetCore(ShapeNetBase):
    """ShapeNetCore models from a local folder, one item per model.

    Args:
        data_dir: the folder holding ``<synset id>/<model id>/`` subfolders.
        synsets: synset ids and / or labels to load (e.g. ``["chair", "04379243"]``); unknown or absent ones are
            warned about and skipped. Default: every synset folder of the official table found in ``data_dir``.
        version: 1 (``model.obj``) or 2 (``models/model_normalized.obj``).
        load_textures: items carry an (F, R, R, 3) ``TexturesAtlas`` map per face (white when the OBJ has none).
        texture_resolution: R.

    Items: ``verts`` (V, 3) float32, ``faces`` (F, 3) int64, ``textures`` (F, R, R, 3) float32 or None,
    ``synset_id``, ``model_id``, ``label`` (str). Model folders without the OBJ are skipped with a warning.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike,
        synsets: Sequence[str] | None = None,
        version: int = 1,
        load_textures: bool = True,
        texture_resolution: int = 4,
    ) -> None:
        super().__init__()
        self.shapenet_dir = data_dir
        self.load_textures = load_textures
        self.texture_resolution = texture_resolution
        self.synset_dict = shapenet_synsets(version)
        self.model_dir = "model.obj" if version == 1 else os.path.join("models", "model_normalized.obj")
        label_to_id = {label: synset for synset, label in self.synset_dict.items()}
        root = Path(data_dir)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: ShapeNetCore folder not found")

        if synsets is not None:
            chosen = set()
            for name in synsets:
                synset = name if name in self.synset_dict else label_to_id.get(name)
                if synset is not None and (root / synset).is_dir():
                    chosen.add(synset)
                else:
                    warnings.warn(f"Synset category {name} either not part of ShapeNetCore dataset or cannot be "
                                  f"found in {data_dir}.", stacklevel=2)
        else:
            chosen = {p.name for p in root.iterdir() if p.is_dir() and p.name in self.synset_dict}
        absent = sorted(set(self.synset_dict) - chosen)
        if absent:
            warnings.warn(f"The following categories are included in ShapeNetCore ver.{version}'s official mapping "
                          f"but not found in the dataset location {data_dir}: {', '.join(absent)}", stacklevel=2)
        # label -> synset of the loaded synsets only
        self.synset_inv = {self.synset_dict[s]: s for s in sorted(chosen)}

        for synset in sorted(chosen):
            self.synset_start_idxs[synset] = len(self.synset_ids)
            for model in sorted(p.name for p in (root / synset).iterdir()):
                if not (root / synset / model / self.model_dir).exists():
                    warnings.warn(f"Object file not found in the model directory {model} under synset directory "
                                  f"{synset}.", stacklevel=2)
                    continue
                self.synset_ids.append(synset)
                self.model_ids.append(model)
            self.synset_num_models[synset] = len(self.synset_ids) - self.synset_start_idxs[synset]

    def __getitem__(self, idx: int) -> dict[str, Any]:
        item = self._get_item_ids(idx)
        path = Path(self.shapenet_dir) / item["synset_id"] / item["model_id"] / self.model_dir
        item["verts"], item["faces"], item["textures"] = self._load_mesh(path)
        item["label"] = self.synset_dict[item["synset_id"]]
        return item
