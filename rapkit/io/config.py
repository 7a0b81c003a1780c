"""Reading the TOML config file (``rapkit --config FILE``).

What the keys mean (option defaults per command) is decided by the CLI
(:func:`rapkit.cli._common.config_default_map`); this module only reads the file.

>>> read_config("rapkit.toml")          # doctest: +SKIP
{'workers': 4, 'fuse': {'rho': 0.6}}
"""

from __future__ import annotations

import os
import tomllib
from typing import Any

from ..errors import ConfigError


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed TOML document of ``path``; a missing, unreadable or malformed file is a
    :class:`~rapkit.errors.ConfigError` (exit 2) naming it."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: expected a TOML file, found a folder") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: malformed TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: malformed TOML: not UTF-8 text") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config file: {e.strerror}") from None


__all__ = ["read_config"]
