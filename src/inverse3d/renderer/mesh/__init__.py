"""Mesh rasterisation, shading and texturing (PyTorch3D's ``renderer.mesh``)."""

from inverse3d._lazy import attach

_EXPORTS = {
    "ClipFrustum": ".clip",
    "ClippedFaces": ".clip",
    "clip_faces": ".clip",
    "convert_clipped_rasterization_to_original_faces": ".clip",
    "rasterize_meshes": ".rasterize_meshes",
    "Fragments": ".rasterizer",
    "MeshRasterizer": ".rasterizer",
    "RasterizationSettings": ".rasterizer",
    "MeshRenderer": ".renderer",
    "MeshRendererWithFragments": ".renderer",
    "BlendParams": "inverse3d.renderer.blending",
    "ShaderBase": ".shader",
    "HardFlatShader": ".shader",
    "HardGouraudShader": ".shader",
    "HardPhongShader": ".shader",
    "SoftGouraudShader": ".shader",
    "SoftPhongShader": ".shader",
    "SoftSilhouetteShader": ".shader",
    "HardDepthShader": ".shader",
    "SoftDepthShader": ".shader",
    "SplatterPhongShader": ".shader",
    "TexturedSoftPhongShader": ".shader",
    "HardNormalShader": ".shader",
    "flat_shading": ".shading",
    "gouraud_shading": ".shading",
    "phong_shading": ".shading",
    "Textures": ".textures_compat",
    "TexturesBase": ".textures",
    "TexturesAtlas": ".textures",
    "TexturesUV": ".textures",
    "TexturesVertex": ".textures",
    "interpolate_face_attributes": ".utils",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
