"""A tiny built-in scene shared by the tests of the tasks that train on scenes (NeRF, surfaces, splats)."""

import pytest

from tests.cli.helpers import tiny_lego as make_tiny_lego


@pytest.fixture(scope="session")
def tiny_lego(tmp_path_factory):
    """The lego scene at 16 x 16 pixels: 4 training views, 2 test views, 100 points."""
    return make_tiny_lego(tmp_path_factory.mktemp("scenes"))
