"""What tells one kind of curated dataset (``data build``, ``data render``) from another, for the engine:
its version, its output layout and the text of its card."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CardText:
    """The card's text that differs between kinds of dataset.

    Attributes:
        intro: the opening paragraph (how the dataset was made).
        source: what a source is, plural (``source videos``); by: singular (``source video``).
        genres: where the genres come from.
        program: what ``version`` numbers (``Pipeline``, ``Renderer``).
        motion: the closing note on the motion's world and how it was obtained.
    """

    intro: str
    source: str
    by: str
    genres: str
    program: str
    motion: str


@dataclass(frozen=True)
class DatasetKind:
    """One kind of dataset.

    Attributes:
        version: the program version, recorded in ``.build/params.json`` and the card.
        dirs: output folders (deleted by ``overwrite``; left-over temporary files removed at the end).
        files: output files at the top of the folder (deleted by ``overwrite``).
        card: the card's text.
    """

    version: str
    dirs: tuple[str, ...]
    files: tuple[str, ...]
    card: CardText
