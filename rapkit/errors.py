"""Typed errors with exit codes.

Every error rapkit raises on purpose is a :class:`RapkitError`. The CLI turns it into a
one-line message on stderr and the error's ``exit_code`` (no traceback unless ``--debug``):

* :class:`GateFailed` -> 1 (a ``--fail-under`` gate was not met)
* :class:`ConfigError` -> 2 (usage, options, config file)
* :class:`InputError` -> 3 (bad input data)

Errors carry where they happened (file, image id, segment id) so the message can say
"panoptic.json: image 139, segment 4210752: id in PNG but not in JSON".
"""

from __future__ import annotations

from typing import Any


class RapkitError(Exception):
    """Base class of rapkit's deliberate errors; the message says where it happened.

    >>> e = RapkitError("id in the PNG but not in the JSON", file="pred.json", image_id=139, segment_id=42)
    >>> str(e), e.exit_code
    ('pred.json: image 139, segment 42: id in the PNG but not in the JSON', 3)
    """

    exit_code: int = 3

    def __init__(
        self,
        message: str,
        *,
        file: Any = None,
        image_id: Any = None,
        segment_id: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.image_id = image_id
        self.segment_id = segment_id

    def where(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(self.file)
        loc = []
        if self.image_id is not None:
            loc.append(f"image {self.image_id}")
        if self.segment_id is not None:
            loc.append(f"segment {self.segment_id}")
        if loc:
            parts.append(", ".join(loc))
        return ": ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message

    def with_context(self, *, file: Any = None, image_id: Any = None, segment_id: Any = None):
        """Fill in missing location fields (innermost information wins) and return self."""
        if self.file is None and file is not None:
            self.file = str(file)
        if self.image_id is None and image_id is not None:
            self.image_id = image_id
        if self.segment_id is None and segment_id is not None:
            self.segment_id = segment_id
        return self


class InputError(RapkitError):
    """Bad input data (missing file, malformed JSON, inconsistent ids...). Exit code 3.

    >>> InputError("bad RLE", file="p.json", image_id=7).with_context(segment_id=3).where()
    'p.json: image 7, segment 3'
    """

    exit_code = 3


class ConfigError(RapkitError):
    """Bad usage, option value or config file. Exit code 2.

    >>> ConfigError("unknown strategy 'x'").exit_code
    2
    """

    exit_code = 2


class GateFailed(RapkitError):
    """A quality gate (``--fail-under``) was not met. Exit code 1.

    >>> GateFailed("quality gate failed: PQ 41.2 < 45").exit_code
    1
    """

    exit_code = 1


__all__ = ["RapkitError", "InputError", "ConfigError", "GateFailed"]
