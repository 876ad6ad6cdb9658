"""The shared base of every named preset: a frozen dataclass whose choices are serialised and hashed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Literal, get_args, get_type_hints

from macedance.errors import ValidationError

_DESCRIPTIVE = ("name", "description", "reference", "reference_pool")


def check_choices(record: Any, what: str) -> None:
    """Every field of the dataclass ``record`` annotated with a ``Literal`` (or a tuple of one) holds an allowed
    value; otherwise a :class:`ValidationError` names the field, the allowed values and what was found."""
    hints = get_type_hints(type(record))
    for f in dataclasses.fields(record):
        hint, value = hints.get(f.name), getattr(record, f.name)
        args = get_args(hint)
        if getattr(hint, "__origin__", None) is Literal:
            allowed, values = args, [value]
        elif getattr(hint, "__origin__", None) is tuple and args and getattr(args[0], "__origin__", None) is Literal:
            allowed, values = get_args(args[0]), list(value)
        else:
            continue
        for v in values:
            if v not in allowed:
                raise ValidationError(f"{what} field {f.name!r}", "one of " + ", ".join(repr(a) for a in allowed), repr(v))


class PresetRecord:
    """Mixin for frozen dataclasses of choices: ``Literal`` fields checked at construction, ``to_dict`` and a
    stable 16-hex ``hash``.

    Fields declared with ``compare=False`` are left out; tuples become lists. The hash covers every
    choice but not the descriptive fields (name, description, reference, reference pool), so
    renaming a preset does not change it and any change of a number does. A choice added after
    presets were published is declared with ``metadata={"hash": "omit-default"}``: while it holds its
    default (the behaviour before it existed) it stays out of the hash, so existing hashes hold.
    """

    def __post_init__(self) -> None:
        check_choices(self, f"{type(self).__name__} {getattr(self, 'name', '')!r}")

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.compare:
                v = getattr(self, f.name)
                out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @property
    def hash(self) -> str:
        fields = {f.name: f for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        d = {k: v for k, v in self.to_dict().items() if k not in _DESCRIPTIVE
             and not (fields[k].metadata.get("hash") == "omit-default" and getattr(self, k) == fields[k].default)}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


class ConfigRecord:
    """Mixin for frozen config dataclasses saved in checkpoints: ``to_dict`` and a tolerant
    ``from_dict`` (unknown keys — from a newer or older version — are ignored)."""

    def __post_init__(self) -> None:
        check_choices(self, type(self).__name__)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in known})
