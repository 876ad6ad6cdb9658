"""One file out of a 7-zip archive (the released MACE-Dance weights are ``.7z`` archives), read into memory with py7zr
(pure Python; the ``released`` extra). The member is chosen by name and checked before it is decompressed (a path
out of the archive's folder or a link is refused, its stated size bounded); its bytes are counted while they are
decompressed, so a 7z bomb, or a member larger than it states, stops at the limit."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from macedance.errors import DataFormatError, MissingDependencyError
from macedance.limits import MAX_CHECKPOINT_BYTES, check_expansion, check_member, human_bytes

MAX_MEMBER = MAX_CHECKPOINT_BYTES  # bytes a member may have


def is_7z(data: bytes) -> bool:
    return data[:6] == b"7z\xbc\xaf\x27\x1c"


class _TooLarge(Exception):
    pass


def _bounded_factory(limit: int) -> Any:
    """A py7zr writer factory whose in-memory files raise once more than ``limit`` bytes arrive."""
    import py7zr.io

    class Product(py7zr.io.Py7zIO):
        def __init__(self) -> None:
            self.buffer, self.n = io.BytesIO(), 0

        def write(self, s: bytes | bytearray) -> int:
            self.n += len(s)
            if self.n > limit:
                raise _TooLarge(self.n)
            return self.buffer.write(s)

        def read(self, size: int | None = None) -> bytes:
            return self.buffer.read(size)

        def seek(self, offset: int, whence: int = 0) -> int:
            return self.buffer.seek(offset, whence)

        def flush(self) -> None:
            pass

        def size(self) -> int:
            return self.n

    class Factory(py7zr.io.WriterFactory):
        def __init__(self) -> None:
            self.products: dict[str, Product] = {}

        def create(self, filename: str) -> Product:
            self.products[filename] = Product()
            return self.products[filename]

    return Factory()


def member_of_7z(data: bytes, source: str | Path, *, pick: Callable[[str], bool], what: str,
                 max_bytes: int = MAX_MEMBER) -> tuple[bytes, str]:
    """The bytes of the one member of the archive ``data`` whose name ``pick`` accepts, and ``"<source>:<name>"``.

    Raises:
        MissingDependencyError: py7zr is not installed (the message says how to unpack instead).
        DataFormatError: not a readable archive, not exactly one such member (``what`` names it), a member with an
            unsafe path or a link, or one that states or expands to more than the limits allow.
    """
    try:
        import py7zr
    except ImportError:
        raise MissingDependencyError(f"{source}: a .7z archive; install py7zr (`pip install py7zr`) to read it directly, "
                                     f"or unpack it (`7z x FILE`) and pass the {what} inside") from None
    try:
        with py7zr.SevenZipFile(io.BytesIO(data), mode="r") as archive:
            infos = [i for i in archive.list() if pick(i.filename)]
            if len(infos) != 1:
                raise DataFormatError(f"{source}: expected one {what} in the archive, found {[i.filename for i in infos] or 'none'}")
            info = infos[0]
            check_member(str(source), info.filename, symlink=bool(info.is_symlink))
            if info.is_directory:
                raise DataFormatError(f"{source}: {info.filename} is a folder, expected a {what}")
            check_expansion(str(source), info.filename, int(info.uncompressed or 0), len(data), max_bytes=max_bytes)
            limit = min(max_bytes, max(int(info.uncompressed or 0), 1))  # never more than it states
            factory = _bounded_factory(limit)
            archive.extract(targets=[info.filename], factory=factory)
            out = factory.products[info.filename].buffer.getvalue()
    except DataFormatError:
        raise
    except _TooLarge as exc:
        raise DataFormatError(f"{source}: {what} decompresses to more than it states or than {human_bytes(limit)} "
                              f"(stopped at {human_bytes(exc.args[0])}; a decompression bomb?)") from None
    except Exception as exc:  # py7zr's Bad7zFile, CRC errors, truncation …
        raise DataFormatError(f"{source}: not a readable 7z archive ({type(exc).__name__}: {exc})") from None
    return out, f"{source}:{info.filename}"
