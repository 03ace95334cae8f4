"""PyTorch3D's Pulsar point renderer is not provided by inverse3d.

Pulsar is a CUDA-only compiled extension; inverse3d has no compiled code. Importing this package raises ImportError
saying so.
"""

from inverse3d import _absent
from inverse3d._lazy import not_provided

raise not_provided("inverse3d.renderer.points.pulsar (PulsarPointsRenderer)", _absent.PULSAR)
