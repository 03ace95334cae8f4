"""The one training core every task uses.

``fit_loop(task, LoopOptions(...))`` (``loop``) runs a task's ``Trainable`` with a time budget, a progress bar, the
loss curve, atomic checkpoints with exact resume (``checkpoint``: weights, optimiser, RNG states, checksums), torchrun
data parallelism (``distributed``), a resumable batch order (``data``), the out-dir lock and the checks of the
options made before any work (``options``).
"""

from inverse3d._lazy import attach

_EXPORTS = {
    "fit_loop": ".loop",
    "Trainable": ".loop",
    "LoopOptions": ".loop",
    "LoopResult": ".loop",
    "Batches": ".loop",
    "Run": ".loop",
    "TrainingInterrupted": ".loop",
    "seed_everything": ".loop",
    "CheckpointError": ".checkpoint",
    "read_checkpoint": ".checkpoint",
    "save_checkpoint": ".checkpoint",
    "load_model_state": ".checkpoint",
    "rng_state": ".checkpoint",
    "set_rng_state": ".checkpoint",
    "keep_freed_memory": ".memory",
    "RunClock": ".clock",
    "loop_hooks": ".loop",
    "LoopHook": ".loop",
    "StepInfo": ".loop",
    "ResumableBatchSampler": ".data",
    "to_device": ".data",
    "Dist": ".distributed",
    "setup_distributed": ".distributed",
    "check_int": ".options",
    "check_float": ".options",
    "check_folder": ".options",
    "check_checkpoint_target": ".options",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
