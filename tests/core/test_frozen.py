"""envcheck.frozen: a class made with ``@frozen`` behaves as the same class made with ``@dataclass(frozen=True)``,
checked side by side on twins defined both ways."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from envcheck.frozen import frozen


def _twins(body: Callable[[], type]) -> tuple[type, type]:
    """The class ``body`` returns, made by envcheck.frozen and by dataclasses."""
    return frozen(body()), dataclass(frozen=True)(body())


def _fact() -> type:
    class Fact:
        name: str
        version: str | None = None
        tags: tuple[str, ...] = ()
        notes: list[str] = field(default_factory=list)
        raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
        seen: int = field(default=0, init=False)
        where: str = field(default="", kw_only=True)

    return Fact


MADE = [
    ((), {"name": "git"}),
    (("git",), {}),
    (("git", "2.39"), {"tags": ("a",), "where": "/usr/bin"}),
    (("git", "2.39", ("a", "b"), ["n"]), {"raw": {"k": 1}}),
]


@pytest.mark.parametrize(("args", "kwargs"), MADE)
def test_made_shown_compared_and_hashed_as_dataclasses_does(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    ours, theirs = _twins(_fact)
    a, b = ours(*args, **kwargs), theirs(*args, **kwargs)
    assert repr(a).replace("_fact.<locals>.", "") == repr(b).replace("_fact.<locals>.", "")
    assert dataclasses.asdict(a) == dataclasses.asdict(b)
    assert dataclasses.astuple(a) == dataclasses.astuple(b)
    assert [f.name for f in dataclasses.fields(a)] == [f.name for f in dataclasses.fields(b)]
    assert dataclasses.is_dataclass(a) and a == ours(*args, **kwargs) and a != b
    other = dataclasses.replace(a, raw={"different": True})  # compare=False: still equal
    assert other == a and dataclasses.replace(b, raw={"different": True}) == b
    assert dataclasses.replace(a, version="9") != a
    assert a.__match_args__ == b.__match_args__  # type: ignore[attr-defined]


def test_hash_and_frozenness() -> None:
    ours, theirs = _twins(_fact)
    a = ours("git", tags=("x",))
    with pytest.raises(TypeError):  # a list field: unhashable, as for dataclasses
        hash(a)
    hashable = frozen(type("Point", (), {"__annotations__": {"x": "int", "y": "int"}, "__module__": __name__}))
    assert hash(hashable(1, 2)) == hash(hashable(1, 2)) and {hashable(1, 2), hashable(1, 2)} == {hashable(1, 2)}
    for made in (a, theirs("git")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            made.name = "other"
        with pytest.raises(dataclasses.FrozenInstanceError):
            del made.name
    assert a.notes == [] and a.notes is not ours("git").notes  # a fresh default per instance
    assert a.seen == 0


@pytest.mark.parametrize(("args", "kwargs", "said"), [
    ((), {}, "missing 1 required argument(s): 'name'"),
    (("a", "b", (), [], {}, "extra"), {}, "takes 6 positional arguments but 7 were given"),
    (("a",), {"name": "b"}, "multiple values for argument 'name'"),
    (("a",), {"nope": 1}, "unexpected keyword argument 'nope'"),
    (("a",), {"seen": 3}, "unexpected keyword argument 'seen'"),  # init=False
])
def test_wrong_arguments_are_refused_as_dataclasses_refuses_them(args: tuple[Any, ...], kwargs: dict[str, Any],
                                                                  said: str) -> None:
    ours, theirs = _twins(_fact)
    with pytest.raises(TypeError, match=said.replace("(", r"\(").replace(")", r"\)")):
        ours(*args, **kwargs)
    with pytest.raises(TypeError):
        theirs(*args, **kwargs)


def test_a_field_without_default_after_one_with_is_refused_at_class_creation() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        frozen(type("Bad", (), {"__annotations__": {"a": "int", "b": "int"}, "a": 1, "__module__": __name__}))


def test_what_a_class_defines_itself_stays_and_post_init_runs() -> None:
    calls: list[str] = []

    class Own:
        value: int

        def __repr__(self) -> str:
            return "own"

        def __eq__(self, other: object) -> bool:
            return True

        def __post_init__(self) -> None:
            calls.append("post")

    made = frozen(Own)
    assert (repr(made(1)), made(1) == made(2), calls) == ("own", True, ["post", "post", "post"])
    assert hash(made(1)) == hash(made(1))  # __eq__ alone: the fields' hash, as dataclasses gives it
    with pytest.raises(TypeError, match="may not define __setattr__"):
        frozen(type("Mutable", (), {"__annotations__": {"x": "int"}, "__setattr__": object.__setattr__,
                                    "__module__": __name__}))


@frozen
class Node:
    name: str
    children: tuple[Node, ...] = ()


@frozen
class Leaf(Node):
    weight: float = 1.0


def test_subclasses_pickling_copying_and_nesting() -> None:
    leaf = Leaf("x", (), 2.0)
    tree = Node("root", (leaf, Node("y")))
    assert [f.name for f in dataclasses.fields(Leaf)] == ["name", "children", "weight"]
    assert repr(tree) == ("Node(name='root', children=(Leaf(name='x', children=(), weight=2.0), "
                          "Node(name='y', children=())))")
    assert pickle.loads(pickle.dumps(tree)) == tree and copy.deepcopy(tree) == tree
    assert Node("x") != Leaf("x")  # another class: not equal, as with dataclasses


def test_a_class_without_a_docstring_gets_one_naming_its_fields() -> None:
    made = frozen(type("Point", (), {"__annotations__": {"x": "int", "y": "str | None"}, "__module__": __name__}))
    assert made.__doc__ == "Point(x: int, y: str | None)"
    assert Node.__doc__ == "Node(name: str, children: tuple[Node, ...])"
