"""All file reading and writing of rapkit lives in this package.

The adapters (:mod:`rapkit.io.adapters`) are exported here, loaded on first use:
:class:`ProposalWriter`, :func:`write_semantic_png`, :func:`write_image_info`,
:func:`semantic_png_name`, :func:`contiguous_label_map`, :func:`resolve_label_map`.

>>> from rapkit.io import ProposalWriter, write_semantic_png   # doctest: +SKIP
"""

_ADAPTERS = (
    "ProposalWriter",
    "write_semantic_png",
    "write_image_info",
    "semantic_png_name",
    "contiguous_label_map",
    "resolve_label_map",
    "COCO80",
    "BUILTIN_LABEL_MAPS",
)


def __getattr__(name: str):
    if name in _ADAPTERS:
        from . import adapters

        return getattr(adapters, name)
    raise AttributeError(f"module 'rapkit.io' has no attribute {name!r}")


__all__ = list(_ADAPTERS)
