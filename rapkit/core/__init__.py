"""Pure computations on numpy arrays: no files, no printing, no torch."""
