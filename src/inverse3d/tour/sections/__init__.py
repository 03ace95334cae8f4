"""One module per section of the tour; ``inverse3d.tour.registry.sections()`` finds them (see its docstring)."""
