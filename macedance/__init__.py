"""macedance: open benchmark and dataset toolkit for music-driven dance generation."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
