"""The one mechanism by which the state of every metric rule becomes a plain dict and back.

A metric rule (:class:`~schedules.reduce_on_plateau.reduce_on_plateau`,
:class:`~schedules.newbob.newbob`, :class:`~schedules.greedy.greedy`, ...) is a frozen record
with ``init() -> state`` and ``update(state, metric) -> state``; its state is a frozen
subclass of :class:`RuleState` that declares

* ``KIND``: the rule's name (the ``"kind"`` key of its dict), and
* ``CHECKS``: every field with the ``require_*`` check of its value (the same checks validate
  the fields when the state is built).

``state.as_dict()`` is ``{"kind": KIND, field: value, ...}`` with only Python ``float``,
``int``, ``None`` and lists of floats, which ``torch.save`` writes and
``torch.load(weights_only=True)`` reads back unchanged (``inf`` included).
``RuleState.from_dict(d)`` rebuilds the state of any rule from its ``"kind"`` (a dict without
one is a :class:`~schedules.plateau_state.PlateauState`, as checkpoints from before the other
rules hold); ``SomeState.from_dict(d)`` also insists on that class. A malformed dict is a
``ValueError`` naming the key and why (every key is checked before the state is built).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar, cast

from schedules.close_matches import did_you_mean

__all__ = ["RuleState", "plain_value"]

Check = Callable[[str, Any], object]
"""A ``require_*`` check: ``check(key, value)`` returns the value (converted) or raises."""

_State = TypeVar("_State", bound="RuleState")

_DEFAULT_KIND = "reduce_on_plateau"
"""The kind of a dict without ``"kind"``: reduce-on-plateau states were saved without one."""


def plain_value(value: object) -> object:
    """A state field as a plain value: a tuple becomes a list of floats; numbers, ``None``
    stay as they are."""
    if isinstance(value, tuple):
        return [float(item) for item in value]
    return value


class RuleState:
    """The base of every metric rule's state (module doc). Subclasses are ``attrs.frozen``
    records with a ``scale`` field: the multiplier of the lr after the metrics seen so far."""

    __slots__ = ()

    KIND: ClassVar[str]
    """The rule's name, the ``"kind"`` key of :meth:`as_dict`."""

    CHECKS: ClassVar[Mapping[str, Check]]
    """Every field of the state, with the check of its value."""

    _KINDS: ClassVar[dict[str, type[RuleState]]] = {}

    scale: float

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "KIND" in cls.__dict__:
            RuleState._KINDS[cls.KIND] = cls  # attrs' slotted copy replaces the first class

    def as_dict(self) -> dict[str, Any]:
        """The state as a plain dict (module doc), loadable with ``weights_only=True``."""
        return {"kind": self.KIND} | {key: plain_value(getattr(self, key)) for key in self.CHECKS}

    @classmethod
    def from_dict(cls: type[_State], state: object) -> _State:
        """The state that :meth:`as_dict` gave ``state``, of the rule its ``"kind"`` names
        (module doc); a ``ValueError`` naming the key when ``state`` is not such a dict."""
        prefix = f"{cls.__name__}.from_dict"
        if not isinstance(state, Mapping):
            expected = "a rule state's as_dict()"
            if cls is not RuleState:
                expected = f"a dict with keys {list(cls.CHECKS)}"
            raise ValueError(
                f"{prefix}: expected {expected}, got {type(state).__name__}: {state!r}"
            )
        kind = state.get("kind", _DEFAULT_KIND)
        target = RuleState._KINDS.get(kind) if isinstance(kind, str) else None
        if target is None:
            raise ValueError(
                f"{prefix}: unknown kind {kind!r}{did_you_mean(str(kind), RuleState._KINDS)} "
                f"(valid kinds: {', '.join(sorted(RuleState._KINDS))})"
            )
        if cls is not RuleState and not issubclass(target, cls):
            raise ValueError(f"{prefix}: the dict holds a {kind!r} state, not a {cls.KIND!r} one")
        prefix, fields = f"{target.__name__}.from_dict", target.CHECKS
        missing = [key for key in fields if key not in state]
        unexpected = [key for key in state if key not in fields and key != "kind"]
        if missing or unexpected:
            wrong = [
                f"{what} keys {keys}"
                for what, keys in (("missing", missing), ("unexpected", unexpected))
                if keys
            ]
            raise ValueError(f"{prefix}: {', '.join(wrong)} (expected exactly {list(fields)})")
        values: dict[str, Any] = {}
        for key, check in fields.items():
            try:
                values[key] = check(key, state[key])
            except ValueError as error:
                raise ValueError(f"{prefix}: {error}") from None
        return cast(_State, target(**values))
