"""Single view to 3D: fitting one shape (``fit``), training an image-to-3D network (``train``) and evaluating it
(``evaluate``), for every representation (voxels, points, meshes, implicit fields).

The public functions, as the command line and the tour call them::

    from inverse3d.tasks.single_view import TrainConfig, train, EvalConfig, evaluate
    result = train(TrainConfig(type="point", iterations=200, out_dir=Path("out/point")))

The submodules ``fit``, ``train`` and ``evaluate`` share their names with the functions exported here (the function
wins as an attribute of the package); reach a submodule with ``importlib.import_module`` or ``sys.modules``.
"""

from inverse3d._lazy import attach

_EXPORTS = {
    # fitting one shape
    "FitConfig": ".fit",
    "FitResult": ".fit",
    "fit": ".fit",
    # training
    "TrainConfig": ".train",
    "TrainResult": ".train",
    "SingleViewTraining": ".train",
    "train": ".train",
    "config_from_plain": ".train",
    "config_to_plain": ".train",
    # evaluation
    "EvalConfig": ".evaluate",
    "EvalResult": ".evaluate",
    "evaluate": ".evaluate",
    "evaluate_model": ".evaluate",
    "check_checkpoint_file": ".evaluate",
    "f1_table_html": ".evaluate",
    "print_table": ".evaluate",
    # data, checkpoints, predictions, views
    "make_dataset": ".data",
    "load_checkpoint": ".checkpoint",
    "model_from_checkpoint": ".checkpoint",
    "validate_model_config": ".checkpoint",
    "surface_points": ".predictions",
    "voxels_to_meshes": ".predictions",
    "render_shape_views": ".views",
    "shape_turntable": ".views",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
