"""Dataset-level pipelines: io + core + process pool, one function per command.

The CLI calls exactly one function here per command; Python users can call them too.
"""
