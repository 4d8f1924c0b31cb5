"""``@frozen``: envcheck's frozen dataclasses (facts, results, policies, what is written to disk), cheaper to define.

A class made with ``@frozen`` is a real dataclass (``dataclasses.fields``, ``replace``, ``asdict`` and
``is_dataclass`` work on it), frozen (assigning or deleting an attribute raises ``dataclasses.FrozenInstanceError``),
compared and hashed by its fields and shown as ``Name(field=value, ...)``, as ``@dataclass(frozen=True)`` makes
it. What differs is the cost of the class statement: ``@dataclass(frozen=True)`` writes the source of six methods
per class and compiles each (CPython's Lib/dataclasses.py, ``_create_fn`` in 3.10 to 3.12, ``_FuncBuilder`` in
3.13), about 0.6 ms a class, and envcheck defines over a hundred, 64 of them in every doctor run: 43 ms of a
154 ms fleet host run (Debian 12's Python 3.11). Here the methods are shared functions that read the class's field
plan, worked out once per class without compiling anything: 64 classes in 10 ms instead of 41. Creating an
instance costs about a microsecond more (2.4 instead of 1.4 us with eight fields); a run makes a few hundred.
"""

from __future__ import annotations

import dataclasses
import reprlib
from typing import TYPE_CHECKING, Any, Callable, TypeVar

T = TypeVar("T")

_PLAN = "__frozen_plan__"


class _Plan:
    """What the shared methods need to know about one class, worked out once."""

    __slots__ = ("name", "init", "positional", "keyword", "defaults", "factories", "later", "compared", "shown",
                 "post_init")

    def __init__(self, cls: type) -> None:
        fields = dataclasses.fields(cls)
        self.name = cls.__qualname__
        self.init = tuple(f.name for f in fields if f.init)
        self.positional = tuple(f.name for f in fields if f.init and not f.kw_only)
        self.keyword = frozenset(self.init)
        self.defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
        self.factories: dict[str, Callable[[], Any]] = {
            f.name: f.default_factory for f in fields if f.default_factory is not dataclasses.MISSING}
        # init=False fields with a default, set after the others (as dataclasses does).
        self.later = tuple(f.name for f in fields if not f.init and f.name in self.defaults.keys() | self.factories)
        self.compared = tuple(f.name for f in fields if f.compare)
        self.shown = tuple(f.name for f in fields if f.repr)
        self.post_init = hasattr(cls, "__post_init__")
        seen_default = False
        for name in self.positional:  # what dataclasses refuses at class creation
            if name in self.defaults or name in self.factories:
                seen_default = True
            elif seen_default:
                raise TypeError(f"non-default argument {name!r} follows default argument in {self.name}")


def _plan(obj: object) -> _Plan:
    plan: _Plan = getattr(type(obj), _PLAN)
    return plan


def _init(self: object, *args: Any, **kwargs: Any) -> None:
    plan = _plan(self)
    if len(args) > len(plan.positional):
        raise TypeError(f"{plan.name}.__init__() takes {len(plan.positional) + 1} positional arguments but "
                        f"{len(args) + 1} were given")
    values = dict(zip(plan.positional, args))  # noqa: B905  (fewer args than fields: the rest by keyword)
    for key in kwargs:
        if key not in plan.keyword:
            raise TypeError(f"{plan.name}.__init__() got an unexpected keyword argument {key!r}")
        if key in values:
            raise TypeError(f"{plan.name}.__init__() got multiple values for argument {key!r}")
    values.update(kwargs)
    put = object.__setattr__
    missing = []
    for name in plan.init:
        if name in values:
            put(self, name, values[name])
        elif name in plan.defaults:
            put(self, name, plan.defaults[name])
        elif name in plan.factories:
            put(self, name, plan.factories[name]())
        else:
            missing.append(name)
    if missing:
        raise TypeError(f"{plan.name}.__init__() missing {len(missing)} required argument(s): "
                        + ", ".join(repr(name) for name in missing))
    for name in plan.later:
        put(self, name, plan.defaults[name] if name in plan.defaults else plan.factories[name]())
    if plan.post_init:
        self.__post_init__()  # type: ignore[attr-defined]


@reprlib.recursive_repr()
def _repr(self: object) -> str:
    plan = _plan(self)
    return f"{plan.name}(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in plan.shown) + ")"


def _eq(self: object, other: object) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    names = _plan(self).compared
    return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)


def _hash(self: object) -> int:
    return hash(tuple(getattr(self, n) for n in _plan(self).compared))


def _setattr(self: object, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: object, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _frozen(cls: type[T]) -> type[T]:
    if not cls.__dict__.get("__doc__"):
        # dataclasses writes a class without a docstring one from inspect.signature(cls), which for a class parses
        # object's text signature: a third of the cost of defining it. The same words, from the annotations.
        annotations = cls.__dict__.get("__annotations__", {})
        cls.__doc__ = f"{cls.__name__}({', '.join(f'{name}: {kind}' for name, kind in annotations.items())})"
    # A dataclass that defines no method of its own: the fields, defaults and factories are dataclasses' reading.
    made = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    for name in ("__setattr__", "__delattr__"):
        if name in cls.__dict__:
            raise TypeError(f"{cls.__qualname__} is frozen: it may not define {name}")
    type.__setattr__(made, _PLAN, _Plan(made))
    own = dict(cls.__dict__)
    if own.get("__hash__", dataclasses.MISSING) is None and "__eq__" in own:
        del own["__hash__"]  # Python's own None for a class that defines __eq__: not a hash of the class's choosing
    for name, method in (("__init__", _init), ("__repr__", _repr), ("__eq__", _eq), ("__hash__", _hash),
                         ("__setattr__", _setattr), ("__delattr__", _delattr)):
        if name not in own:  # what the class defines itself stays, as with dataclasses
            type.__setattr__(made, name, method)
    return made


if TYPE_CHECKING:  # type checkers read the class as what it behaves as: a frozen dataclass (PEP 681)
    from typing_extensions import dataclass_transform

    @dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
    def frozen(cls: type[T]) -> type[T]: ...
else:
    frozen = _frozen
