"""One file out of a 7-zip archive (the released MACE-Dance weights are ``.7z`` archives), read into memory with py7zr
(pure Python; the ``released`` extra). The member is chosen by name; its size is bounded (a 7z bomb stops there)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from macedance.errors import DataFormatError, MissingDependencyError

MAX_MEMBER = 16 << 30  # bytes a member may have


def is_7z(data: bytes) -> bool:
    return data[:6] == b"7z\xbc\xaf\x27\x1c"


def member_of_7z(data: bytes, source: str | Path, *, pick: Callable[[str], bool], what: str,
                 max_bytes: int = MAX_MEMBER) -> tuple[bytes, str]:
    """The bytes of the one member of the archive ``data`` whose name ``pick`` accepts, and ``"<source>:<name>"``.

    Raises:
        MissingDependencyError: py7zr is not installed (the message says how to unpack instead).
        DataFormatError: not a readable archive, or not exactly one such member (``what`` names it).
    """
    try:
        import py7zr
        import py7zr.io
    except ImportError:
        raise MissingDependencyError(f"{source}: a .7z archive; install py7zr (`pip install py7zr`) to read it directly, "
                                     f"or unpack it (`7z x FILE`) and pass the {what} inside") from None
    try:
        with py7zr.SevenZipFile(io.BytesIO(data), mode="r") as archive:
            names = [n for n in archive.getnames() if pick(n)]
            if len(names) != 1:
                raise DataFormatError(f"{source}: expected one {what} in the archive, found {names or 'none'}")
            factory = py7zr.io.BytesIOFactory(max_bytes)
            archive.extract(targets=names, factory=factory)
            member = factory.get(names[0])
            member.seek(0)
            out = member.read()
    except DataFormatError:
        raise
    except Exception as exc:  # py7zr's Bad7zFile, CRC errors, truncation, a member over max_bytes …
        raise DataFormatError(f"{source}: not a readable 7z archive ({type(exc).__name__}: {exc})") from None
    return out, f"{source}:{names[0]}"
