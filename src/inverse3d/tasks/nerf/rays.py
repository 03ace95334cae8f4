"""The training rays of a scene: ``RayPool`` and ``RayBatch`` live in ``inverse3d.datasets.scenes.rays``, shared by
every task that trains on multi-view scenes (NeRF, neural surfaces); re-exported here."""

from inverse3d.datasets.scenes.rays import RayBatch, RayPool

__all__ = ["RayPool", "RayBatch"]
