"""Checking ``optim_conf`` values against the optimizer's signature before torch sees them.

torch's optimizers validate ranges (``0.0 <= lr``) but not types, and YAML makes strings
easily: ``amsgrad: 'no'`` is a truthy string, so AMSGrad is turned *on*; ``maximize: 'false'``
maximizes the loss; ``betas: [0.9]`` fails deep inside torch with an ``IndexError``;
``lr: fast`` with ``'<=' not supported between instances of 'float' and 'str'``. Here each
value is matched against the annotation of that keyword in ``optim_class.__init__``
(:func:`optimsche.config.value_types.value_matches`: ``bool`` wants true/false, ``float`` a
number, ``tuple[float, float]`` a list of two numbers, ``float | Tensor`` a number or a
Tensor). A keyword without an annotation is judged by its default when that is a bool, a
number or a tuple of numbers (a user's own unannotated optimizer); otherwise it is left to
the optimizer.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Mapping
from typing import Any

from torch.optim import Optimizer

from optimsche.config.value_types import describe_annotation, describe_value, value_matches


def _from_default(default: object) -> Any:
    """The annotation a default value implies, or ``None`` for no check."""
    if isinstance(default, bool):
        return bool
    if isinstance(default, numbers.Real):
        return float
    if (
        isinstance(default, tuple)
        and default
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in default)
    ):
        return tuple[tuple(float for _ in default)]  # type: ignore[misc]
    return None


def optimizer_annotations(optim_class: type[Optimizer]) -> dict[str, Any]:
    """The annotation of each keyword of ``optim_class.__init__`` after ``params`` that has
    one (evaluated), or the one its default implies (module doc)."""
    try:
        signature = inspect.signature(optim_class.__init__, eval_str=True)
    except (NameError, TypeError, SyntaxError, ValueError):
        try:
            signature = inspect.signature(optim_class.__init__)
        except (TypeError, ValueError):  # pragma: no cover - a builtin without a signature
            return {}
    found: dict[str, Any] = {}
    for name, parameter in signature.parameters.items():
        if name in ("self", "params") or parameter.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            continue
        annotation = parameter.annotation
        if annotation is inspect.Parameter.empty or isinstance(annotation, str):
            annotation = _from_default(parameter.default)
        if annotation is not None:
            found[name] = annotation
    return found


def check_optim_conf_values(
    optim_class: type[Optimizer], optim_conf: Mapping[str, Any], where: str
) -> None:
    """Raise a ``ValueError`` ``"<where>.<key>: must be <what> for <optimizer>, got <value>
    (<kind>)"`` for
    the first value of ``optim_conf`` that does not fit ``optim_class``'s signature."""
    annotations = optimizer_annotations(optim_class)
    for key, value in optim_conf.items():
        annotation = annotations.get(key)
        if annotation is not None and not value_matches(value, annotation, classes=True):
            raise ValueError(
                f"{where}.{key}: must be {describe_annotation(annotation)} for "
                f"{optim_class.__name__}, got {describe_value(value)}"
            )
