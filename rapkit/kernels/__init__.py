"""All numba code of rapkit. Every kernel has a plain-numpy twin in ``_reference``."""

from ._cache_load import arm as _arm_cache_load

_arm_cache_load()  # lighter loads of cached kernels, once numba is imported (no import here)
