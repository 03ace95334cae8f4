"""The ``inverse3d`` command line: one thin module per command (parse, call the library, report)."""
