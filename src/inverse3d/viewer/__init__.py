"""A browser viewer (viser, the optional extra ``pip install -e .[viewer]``) for meshes, point clouds, voxel
grids, Gaussian splats, multi-view scenes and trained models (``inverse3d view``), and live training
(``LiveViewer``, a ``fit_loop`` hook behind ``--viewer`` on the train commands). Reading the inputs
(``sources``) needs no viser; starting a server does."""

from inverse3d._lazy import attach

_EXPORTS = {
    "load_source": ".sources",
    "voxels_to_mesh": ".sources",
    "MeshItem": ".sources",
    "PointsItem": ".sources",
    "VoxelsItem": ".sources",
    "GaussiansItem": ".sources",
    "SceneItem": ".sources",
    "CheckpointItem": ".sources",
    "CHECKPOINT_VIEWS": ".checkpoints",
    "CheckpointView": ".checkpoints",
    "checkpoint_task": ".checkpoints",
    "ViewCamera": ".checkpoints",
    "camera_rays": ".checkpoints",
    "Viewer": ".app",
    "require_viser": ".app",
    "LiveViewer": ".live",
    "LIVE_PREDICTIONS": ".live",
    "parse_address": ".live",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
