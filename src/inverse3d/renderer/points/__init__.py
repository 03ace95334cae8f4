"""Point rasterisation and compositing."""
