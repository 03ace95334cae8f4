"""One package per job a user runs, each built on ``inverse3d.training`` and never on another task.

``single_view`` (fit one shape, train an image-to-3D network, evaluate it) now; multi-view scenes (NeRF), neural
surfaces, Gaussian splatting and inverse rendering as they come. A task's public functions are the names its
package exports; the tour and the command line call those.
"""
