"""All numba code of rapkit. Every kernel has a plain-numpy twin in ``_reference``."""
