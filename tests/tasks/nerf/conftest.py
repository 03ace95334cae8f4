"""A tiny box scene for the NeRF tests (the tiny lego scene is ``tests/tasks/conftest.py``'s)."""

import pytest


@pytest.fixture(scope="session")
def tiny_box(tmp_path_factory):
    from inverse3d.datasets.scenes import make_scene

    return make_scene("box", tmp_path_factory.mktemp("scenes") / "box16", image_size=16, n_val=1, n_test=1,
                      progress=False, n_points=100)
