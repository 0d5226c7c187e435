"""Declared structure for the files this tool reads, checked before any field is used.

A file kind declares its structure once, as a tree of specs (``Record`` of named fields,
``MapOf``, ``ListOf``, ``Int``, ``Num``, ``Str``, ``Plain`` for free-form data, ...),
each with its type, range, size and depth. ``spec.check(value, where)`` raises one
``SchemaError`` naming the first field that breaks it (``metrics.history[3].lr: expected
a finite number, got nan``), so a reader never meets a string where it wants a dict, a
NaN where it wants a number or a list a million long. ``spec.wrong()`` lists values that
break the spec, field by field, for the structure-aware fuzz of the tests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class SchemaError(ValueError):
    """A value that breaks its declared structure; the message names where."""


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, int | float | bool | type(None)) else None
    return text if text and len(text) < 40 else f"a {type(value).__name__}"


def _fail(where: str, wanted: str, value: object) -> SchemaError:
    return SchemaError(f"{where}: expected {wanted}, got {_shown(value)}")


class Spec:
    """One node of a declared structure."""

    wanted = "a value"

    def check(self, value: Any, where: str) -> None:
        raise NotImplementedError

    def wrong(self) -> list[Any]:
        """Values that break this spec (of another type, size, depth or finiteness)."""
        return []

    def variants(self, good: Any) -> list[tuple[str, Any]]:
        """Broken copies of ``good`` field by field (only a ``Record`` has fields)."""
        return []


@dataclass(frozen=True)
class Int(Spec):
    low: int = -(2**63)
    high: int = 2**63 - 1

    @property
    def wanted(self) -> str:
        return f"an integer in [{self.low}, {self.high}]"

    def check(self, value, where):
        if not (isinstance(value, int) and not isinstance(value, bool)):
            raise _fail(where, self.wanted, value)
        if not self.low <= value <= self.high:
            raise _fail(where, self.wanted, value)

    def wrong(self):
        return ["1", 1.5, None, [1], self.high + 1, self.low - 1, True]


@dataclass(frozen=True)
class Num(Spec):
    """A finite int or float (not a bool) in [low, high]."""

    low: float = -math.inf
    high: float = math.inf

    @property
    def wanted(self) -> str:
        return "a finite number" + (
            f" in [{self.low}, {self.high}]" if math.isfinite(self.low + self.high) else ""
        )

    def check(self, value, where):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(where, self.wanted, value)
        if not math.isfinite(value) or not self.low <= value <= self.high:
            raise _fail(where, self.wanted, value)

    def wrong(self):
        return [float("nan"), float("inf"), "0.1", None, {"x": 1}]


@dataclass(frozen=True)
class Str(Spec):
    longest: int = 1000
    chars: str | None = None
    """The only characters allowed (None: any)."""

    @property
    def wanted(self) -> str:
        only = f" of {self.chars!r}" if self.chars else ""
        return f"a string{only} of at most {self.longest} characters"

    def check(self, value, where):
        if not isinstance(value, str) or len(value) > self.longest:
            raise _fail(where, self.wanted, value)
        if self.chars is not None and value.strip(self.chars):
            raise _fail(where, self.wanted, value)

    def wrong(self):
        return [1, None, ["a"], "x" * (self.longest + 1)] + (["\u00e9"] if self.chars else [])


@dataclass(frozen=True)
class Bool(Spec):
    wanted = "true or false"

    def check(self, value, where):
        if not isinstance(value, bool):
            raise _fail(where, self.wanted, value)

    def wrong(self):
        return [1, "true", None]


@dataclass(frozen=True)
class Nothing(Spec):
    wanted = "nothing (None)"

    def check(self, value, where):
        if value is not None:
            raise _fail(where, self.wanted, value)


@dataclass(frozen=True)
class Either(Spec):
    options: tuple[Spec, ...]

    @property
    def wanted(self) -> str:
        return " or ".join(o.wanted for o in self.options)

    def check(self, value, where):
        for option in self.options:
            try:
                option.check(value, where)
            except SchemaError:
                continue
            return
        raise _fail(where, self.wanted, value)

    def wrong(self):
        return [v for v in self.options[0].wrong() if not self._fits(v)]

    def _fits(self, value) -> bool:
        try:
            self.check(value, "")
        except SchemaError:
            return False
        return True


@dataclass(frozen=True)
class ListOf(Spec):
    item: Spec
    longest: int = 10_000
    tuples: bool = True
    """Whether a tuple counts as a list (torch.save keeps tuples; JSON has none)."""

    @property
    def wanted(self) -> str:
        return f"a list of at most {self.longest} items"

    def check(self, value, where):
        kinds = (list, tuple) if self.tuples else (list,)
        if not isinstance(value, kinds) or len(value) > self.longest:
            raise _fail(where, self.wanted, value)
        for i, item in enumerate(value):
            self.item.check(item, f"{where}[{i}]")

    def wrong(self):
        bad_items = [[v] for v in self.item.wrong()[:3]]
        return ["a list", {"0": 1}, None, [None] * (self.longest + 1), *bad_items]


@dataclass(frozen=True)
class MapOf(Spec):
    """A dict of string keys to values of one spec."""

    value: Spec
    longest: int = 10_000
    key: Str = field(default_factory=lambda: Str(200))

    @property
    def wanted(self) -> str:
        return f"a mapping of at most {self.longest} entries"

    def check(self, value, where):
        if not isinstance(value, Mapping) or len(value) > self.longest:
            raise _fail(where, self.wanted, value)
        for key, item in value.items():
            self.key.check(key, f"{where} key")
            self.value.check(item, f"{where}.{key}")

    def wrong(self):
        return ["a map", [1, 2], None, {1: 1}, *({"k": v} for v in self.value.wrong()[:3])]


@dataclass(frozen=True)
class Record(Spec):
    """A dict with named fields: ``fields`` (each optional unless in ``required``);
    other keys are refused unless ``extra`` gives their spec."""

    fields: Mapping[str, Spec]
    required: frozenset[str] = frozenset()
    extra: Spec | None = None

    wanted = "a mapping"

    def check(self, value, where):
        if not isinstance(value, Mapping):
            raise _fail(where, self.wanted, value)
        missing = sorted(self.required - set(value))
        if missing:
            raise SchemaError(f"{where}: missing {', '.join(missing)}")
        for key, item in value.items():
            spec = self.fields.get(key, self.extra)
            if spec is None:
                raise SchemaError(f"{where}: unexpected field {str(key)[:50]!r}")
            spec.check(item, f"{where}.{key}")

    def wrong(self):
        return ["a record", [1], None]

    def variants(self, good: Mapping) -> list[tuple[str, Any]]:
        """``(where, broken copy of good)``: each field of ``good`` replaced in turn by each
        value its spec refuses, recursively, and each required field left out."""
        out: list[tuple[str, Any]] = []
        for key in sorted(self.required):
            out.append((f"{key} missing", {k: v for k, v in good.items() if k != key}))
        for key, spec in self.fields.items():
            if key not in good:
                continue
            for where, broken in spec.variants(good[key]):
                out.append((f"{key}.{where}", {**good, key: broken}))
            for bad in spec.wrong():
                out.append((key, {**good, key: bad}))
        return out


@dataclass(frozen=True)
class Plain(Spec):
    """Free-form plain data (what JSON holds: None, bools, finite numbers, strings, lists
    and string-keyed dicts), at most ``depth`` deep and ``longest`` items a level."""

    depth: int = 8
    longest: int = 100_000

    wanted = "plain data (finite numbers, strings, lists and mappings, not too deep)"

    def check(self, value, where, level: int = 0):
        if level > self.depth:
            raise SchemaError(f"{where}: nested deeper than {self.depth} levels")
        if value is None or isinstance(value, bool | str):
            return
        if isinstance(value, int | float):
            if not math.isfinite(value):
                raise _fail(where, "a finite number", value)
            return
        if isinstance(value, list | tuple):
            if len(value) > self.longest:
                raise _fail(where, f"at most {self.longest} items", value)
            for i, item in enumerate(value):
                self.check(item, f"{where}[{i}]", level + 1)
            return
        if isinstance(value, Mapping):
            if len(value) > self.longest:
                raise _fail(where, f"at most {self.longest} entries", value)
            for key, item in value.items():
                if not isinstance(key, str):
                    raise _fail(f"{where} key", "a string", key)
                self.check(item, f"{where}.{key}", level + 1)
            return
        raise _fail(where, self.wanted, value)

    def wrong(self):
        deep: Any = 1
        for _ in range(self.depth + 2):
            deep = [deep]
        return [float("nan"), {"k": float("inf")}, deep, object()]


@dataclass(frozen=True)
class Tensor(Spec):
    """A torch tensor (its shape and dtype are the model's to check)."""

    wanted = "a tensor"

    def check(self, value, where):
        import torch

        if not isinstance(value, torch.Tensor):
            raise _fail(where, self.wanted, value)

    def wrong(self):
        return [[1.0, 2.0], 1.0, "weights", None]


SCALAR = Either((Num(), Str(), Bool(), Nothing()))
"""A setting's value: a finite number, a string, true/false or nothing."""
