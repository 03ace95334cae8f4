"""Speed and memory benchmarks of inverse3d's hot paths. Run them with ``python -m benchmarks``."""
