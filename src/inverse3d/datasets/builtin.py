"""The built-in procedural dataset: chairs, tables and sofas rendered R2N2-style, generated once and cached.

Item format (a dict; ``ProceduralShapes`` and ``R2N2`` return exactly these keys, so models and the training
engine code against this list and nothing else):

- ``"images"``: (H, W, 3) float32 in [0, 1], RGB on a white background (H = W = ``image_size``, 137 by default).
- ``"voxels"``: (D, H, W) float32 occupancy in {0, 1} over the cube [-0.5, 0.5]^3, cell-centred, axes ordered
  (z, y, x) as in ``inverse3d.ops.voxel_grid`` (``voxels[d, h, w]`` is the cell at world x from w, y from h,
  z from d). D = H = W = ``voxel_res`` (32 by default).
- ``"points"``: (P, 3) float32 surface samples in world coordinates (P = ``n_points``).
- ``"normals"``: (P, 3) float32 unit outward normals of the faces the points were sampled from.
- ``"verts"``: (V, 3) float32 mesh vertices, world coordinates (only when ``return_mesh``).
- ``"faces"``: (F, 3) int64 vertex indices (only when ``return_mesh``).
- ``"R"``: (3, 3) float32 and ``"T"``: (3,) float32, the world-to-view transform of the camera that took the image,
  in PyTorch3D's row-vector convention (``X_view = X_world @ R + T``), ready for
  ``FoVPerspectiveCameras(R=R[None], T=T[None], fov=fov)``.
- ``"fov"``: () float32, vertical field of view of that camera in degrees.
- ``"dist"``, ``"elev"``, ``"azim"``: () float32, the camera's distance to the origin and its elevation and azimuth
  in degrees (``look_at_view_transform`` semantics: azimuth 0 looks at the shape's front from +z).
- ``"category"``: str, e.g. ``"chair"`` (R2N2: the ShapeNet synset id, e.g. ``"03001627"``).
- ``"id"``: str, a unique model id within the category (procedural: ``"chair_000012"``; R2N2: the ShapeNet id).

World coordinates follow CONVENTIONS.md: +Y up, shapes centred with bounding-box diagonal 1, so every shape lies in
[-0.5, 0.5]^3.

``collate_batch(items)`` stacks the fixed-size entries into batch tensors (``images`` (N, H, W, 3), ``voxels``
(N, D, H, W), ``points`` / ``normals`` (N, P, 3), ``R`` (N, 3, 3), ``T`` (N, 3), ``fov`` / ``dist`` / ``elev`` /
``azim`` (N,)), keeps ``category`` and ``id`` as lists of str, ``verts`` and ``faces`` as lists of tensors, and adds
``"mesh"``: an ``inverse3d.structures.Meshes`` of the N meshes (as PyTorch3D's ``collate_batched_R2N2`` does), when the
items carry meshes.
"""
