"""Inputs PyTorch3D accepts and computes correctly are accepted: principal points (N, 2, 1), flat light colours."""

from __future__ import annotations

import pytest
import torch

from inverse3d.renderer import (AmbientLights, DirectionalLights, OrthographicCameras, PerspectiveCameras,
                                PointLights, SfMPerspectiveCameras)


@pytest.mark.filterwarnings("ignore:SfMPerspectiveCameras is deprecated:PendingDeprecationWarning")
@pytest.mark.parametrize("cls", [PerspectiveCameras, OrthographicCameras, SfMPerspectiveCameras])
@pytest.mark.parametrize("N", [1, 3])
def test_principal_point_as_column_vectors(cls, N):
    pp = torch.rand(N, 2) - 0.5
    focal = torch.rand(N, 1) + 1.0
    points = torch.rand(N, 6, 3) + torch.tensor([0.0, 0.0, 2.0])
    column = cls(focal_length=focal, principal_point=pp[..., None])
    row = cls(focal_length=focal, principal_point=pp)
    assert column.principal_point.shape == (N, 2)
    torch.testing.assert_close(column.transform_points(points), row.transform_points(points))
    # given to the projection as an override too
    torch.testing.assert_close(row.transform_points(points, principal_point=pp[..., None]),
                               row.transform_points(points))


def test_flat_light_colours_are_one_lights():
    flat = PointLights(ambient_color=torch.tensor([0.1, 0.2, 0.3]), diffuse_color=(0.4, 0.5, 0.6),
                       specular_color=[0.0, 0.1, 0.0], location=(0.0, 1.0, 2.0))
    nested = PointLights(ambient_color=((0.1, 0.2, 0.3),), diffuse_color=((0.4, 0.5, 0.6),),
                         specular_color=((0.0, 0.1, 0.0),), location=((0.0, 1.0, 2.0),))
    assert len(flat) == 1
    for name in ("ambient_color", "diffuse_color", "specular_color", "location"):
        torch.testing.assert_close(getattr(flat, name), getattr(nested, name))
    normals = torch.nn.functional.normalize(torch.rand(1, 5, 3), dim=-1)
    points = torch.rand(1, 5, 3)
    torch.testing.assert_close(flat.diffuse(normals, points), nested.diffuse(normals, points))
    directional = DirectionalLights(diffuse_color=torch.tensor([1.0, 0.5, 0.25]), direction=[0.0, 0.0, 1.0])
    assert len(directional) == 1 and directional.direction.shape == (1, 3)
    assert AmbientLights(ambient_color=torch.tensor([0.3, 0.3, 0.3])).ambient_color.shape == (1, 3)
    # batches stay batches
    assert len(PointLights(location=torch.rand(4, 3))) == 4
