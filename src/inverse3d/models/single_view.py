"""Single-view reconstruction networks: a ResNet-18 image encoder and one decoder per 3D representation.

``SingleViewModel(type=...)`` is the one class the training and evaluation engines use:

==============  ===========================  ==========================================================
type            ``forward(images, ...)``       training target
==============  ===========================  ==========================================================
``vox``         (N, R, R, R) logits          voxel grid, class-balanced BCE (MLP decoder)
``vox_conv``    (N, R, R, R) logits          voxel grid, class-balanced BCE (3D transposed convolutions)
``point``       (N, n_points, 3) points      surface samples, chamfer
``mesh``        (N, V, 3) ico-sphere verts   surface samples of the mesh, chamfer + Laplacian smoothing
``implicit``    (N, Q) logits at (N, Q, 3)   occupancy of query points, BCE
==============  ===========================  ==========================================================

``predict(images)`` gives what evaluation needs for every type (a dict, see its docstring); ``config`` gives the
constructor's arguments so a checkpoint can rebuild the model (``SingleViewModel(**config)``).
"""

from __future__ import annotations

import torch
from torch import nn

from inverse3d.models.decoders import (
    ImplicitDecoder,
    MeshOffsetDecoder,
    PointMLPDecoder,
    VoxelConvDecoder,
    VoxelMLPDecoder,
)
from inverse3d.models.encoder import FEATURE_DIM, ResNet18Encoder

MODEL_TYPES = ("vox", "vox_conv", "point", "mesh", "implicit")


class SingleViewModel(nn.Module):
    """Image (N, H, W, 3) in [0, 1] -> a 3D shape of the chosen representation.

    Args:
        type: one of ``MODEL_TYPES``.
        voxel_res: R, the voxel grid size of ``vox`` / ``vox_conv`` outputs and of the grid an ``implicit`` model is
            evaluated on by ``predict``.
        n_points: points predicted by ``point``.
        ico_level: subdivision level of the ``mesh`` template (level 4: 2562 vertices, 5120 faces).
        pretrained: ImageNet weights for the encoder from the local torch hub cache (never downloaded).
    """

    def __init__(
        self,
        type: str = "vox",
        voxel_res: int = 32,
        n_points: int = 2048,
        ico_level: int = 4,
        pretrained: bool = False,
    ) -> None:
        super().__init__()
        if type not in MODEL_TYPES:
            raise ValueError(f"unknown model type {type!r}; choose one of {MODEL_TYPES}")
        self.type = type
        self.config = dict(type=type, voxel_res=voxel_res, n_points=n_points, ico_level=ico_level)
        self.encoder = ResNet18Encoder(pretrained=pretrained)
        if type == "vox":
            self.decoder = VoxelMLPDecoder(voxel_res, FEATURE_DIM)
        elif type == "vox_conv":
            self.decoder = VoxelConvDecoder(voxel_res, FEATURE_DIM)
        elif type == "point":
            self.decoder = PointMLPDecoder(n_points, FEATURE_DIM)
        elif type == "mesh":
            self.decoder = MeshOffsetDecoder(ico_level, FEATURE_DIM)
        else:
            self.decoder = ImplicitDecoder(FEATURE_DIM)
        # log of the weight of occupied cells in the training loss (class-balanced BCE): a model trained that way
        # outputs logits raised by it, so ``predict`` subtracts it and probability 0.5 means "as likely as not".
        self.register_buffer("logit_shift", torch.zeros(()))

    def forward(self, images: torch.Tensor, points: torch.Tensor | None = None) -> torch.Tensor:
        """images: (N, H, W, 3) float in [0, 1]; points: (N, Q, 3) query points, only (and always) for ``implicit``.

        Returns the raw output of the decoder (see the module docstring's table).
        """
        features = self.encoder(images)  # (N, 512)
        if self.type == "implicit":
            if points is None:
                raise ValueError("an implicit model needs query points: model(images, points)")
            return self.decoder(features, points)
        if points is not None:
            raise ValueError(f"a {self.type!r} model takes no query points")
        return self.decoder(features)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, chunk: int = 32768) -> dict[str, torch.Tensor]:
        """The prediction for evaluation, without gradients.

        Returns a dict with, by type:
            ``vox``, ``vox_conv``, ``implicit``: ``"voxel_logits"`` (N, R, R, R), calibrated occupancy logits
                (``logit_shift`` removed) on the cells of the R^3 grid over [-0.5, 0.5]^3 (``implicit``: its field
                queried at the cell centres, ``chunk`` points at a time);
            ``point``: ``"points"`` (N, n_points, 3);
            ``mesh``: ``"verts"`` (N, V, 3) and ``"faces"`` (F, 3) int64.
        """
        if self.type == "implicit":
            from inverse3d.ops.voxel_grid import grid_points

            features = self.encoder(images)  # (N, 512)
            R = self.config["voxel_res"]
            query = grid_points(R, device=features.device, dtype=features.dtype).view(1, -1, 3)  # (1, R^3, 3)
            logits = torch.cat(
                [self.decoder(features, query[:, i : i + chunk].expand(features.shape[0], -1, -1))
                 for i in range(0, query.shape[1], chunk)],
                dim=1,
            )
            return {"voxel_logits": logits.view(-1, R, R, R) - self.logit_shift}
        out = self(images)
        if self.type in ("vox", "vox_conv"):
            return {"voxel_logits": out - self.logit_shift}
        if self.type == "point":
            return {"points": out}
        return {"verts": out, "faces": self.decoder.faces}
