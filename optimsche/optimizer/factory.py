"""Building the torch optimizer of an OptimScheduler: which class, which parameters, which kwargs.

SpeeChain builds ``torch.optim.<optim_type>(params, **optim_conf)`` over the parameters of the
first-level modules named by ``updated_modules`` (all of the model when ``None``). Here every
input is checked at the boundary: an unknown ``optim_type`` lists the close matches among the
optimizers of ``torch.optim``, an unknown module lists the model's first-level modules, an
unknown ``optim_conf`` key lists the optimizer's keyword arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from optimsche.dotted_import import import_dotted
from optimsche.optimizer.optim_conf_types import check_optim_conf_values
from optimsche.parallel.distributed import unwrap
from schedules.close_matches import did_you_mean


def torch_optimizer_names() -> list[str]:
    """The names of the optimizer classes ``torch.optim`` exports, sorted."""
    names = []
    for name in dir(torch.optim):
        value = getattr(torch.optim, name)
        if (
            isinstance(value, type)
            and issubclass(value, Optimizer)
            and value is not Optimizer
            and not name.startswith("_")
        ):
            names.append(name)
    return sorted(names)


def resolve_optimizer_class(optim_type: object) -> type[Optimizer]:
    """The optimizer class ``optim_type`` names.

    A plain name (``"AdamW"``) is looked up in ``torch.optim``; a dotted path
    (``"torch.optim.AdamW"``, ``"mypkg.optim.Lion"``) is imported. The result must be a
    ``torch.optim.Optimizer`` subclass. Failures are ``ValueError``s listing close matches.
    """
    if not isinstance(optim_type, str) or not optim_type:
        raise ValueError(
            f"optim_type must be the name of a torch.optim optimizer (e.g. 'AdamW') or a dotted "
            f"path to an Optimizer subclass, got {optim_type!r}"
        )
    if "." not in optim_type:
        names = torch_optimizer_names()
        if optim_type not in names:
            raise ValueError(
                f"optim_type {optim_type!r} is not an optimizer of torch.optim"
                f"{did_you_mean(optim_type, names)} (torch.optim has: {', '.join(names)})"
            )
        found: object = getattr(torch.optim, optim_type)
    else:
        found = import_dotted(optim_type, "optim_type")
    if not (isinstance(found, type) and issubclass(found, Optimizer)):
        raise ValueError(
            f"optim_type {optim_type!r} names {found!r}, which is not a torch.optim.Optimizer "
            f"subclass"
        )
    return found


def normalize_updated_modules(updated_modules: object) -> list[str] | None:
    """``None``, one module name, or a sequence of names -> ``None`` or a list of names."""
    if updated_modules is None:
        return None
    if isinstance(updated_modules, str):
        return [updated_modules]
    if isinstance(updated_modules, Sequence) and all(isinstance(m, str) for m in updated_modules):
        if len(updated_modules) == 0:
            raise ValueError("updated_modules must name at least one module, got []")
        return list(updated_modules)
    raise ValueError(
        f"updated_modules must be None, a module name or a list of module names, got "
        f"{updated_modules!r}"
    )


def unique_parameters(parameters: Iterable[nn.Parameter]) -> list[nn.Parameter]:
    """``parameters`` in order, each one once (tied weights appear in several modules)."""
    seen: set[int] = set()
    unique = []
    for p in parameters:
        if id(p) not in seen:
            seen.add(id(p))
            unique.append(p)
    return unique


def select_parameters(model: nn.Module, updated_modules: list[str] | None) -> list[nn.Parameter]:
    """The parameters of the named submodules of ``model`` (all of it when ``None``).

    A DDP/FSDP wrapper is looked through (:func:`optimsche.distributed.unwrap`). A name is a
    first-level module (SpeeChain) or a dotted path to a deeper one (``"encoder.layers"``).
    """
    inner = unwrap(model)
    if updated_modules is None:
        return unique_parameters(inner.parameters())
    chosen: list[nn.Parameter] = []
    for name in updated_modules:
        try:
            module = inner.get_submodule(name)
        except AttributeError:
            first_level = [child for child, _ in inner.named_children()]
            raise ValueError(
                f"updated_modules: {name!r} is not a module of the model "
                f"({type(inner).__name__}); its first-level modules are: "
                f"{', '.join(repr(c) for c in first_level) or '(none)'}"
            ) from None
        chosen.extend(module.parameters())
    return unique_parameters(chosen)


def optimizer_keywords(optim_class: type[Optimizer]) -> tuple[list[str], bool]:
    """The keyword arguments ``optim_class`` takes after ``params``, and whether it has
    ``**kwargs``."""
    try:
        signature = inspect.signature(optim_class.__init__)
    except (TypeError, ValueError):  # pragma: no cover - builtin without a signature
        return [], True
    names = []
    var_keyword = False
    for name, parameter in signature.parameters.items():
        if name in ("self", "params"):
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = True
        elif parameter.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        ):
            names.append(name)
    return names, var_keyword


def build_optimizer(
    optim_class: type[Optimizer], optim_conf: object, params: list[nn.Parameter]
) -> Optimizer:
    """``optim_class(params, **optim_conf)`` after checking ``optim_conf``.

    ``optim_conf`` must be a mapping (``None`` means ``{}``) of the optimizer's keyword
    arguments, each value of the type its signature declares
    (:mod:`optimsche.optimizer.optim_conf_types`); ``params`` is not one of them
    (``updated_modules`` chooses the parameters).
    """
    if optim_conf is None:
        optim_conf = {}
    if not isinstance(optim_conf, Mapping):
        raise ValueError(
            f"optim_conf must be a dict of {optim_class.__name__} keyword arguments, got "
            f"{type(optim_conf).__name__}: {optim_conf!r}"
        )
    conf: dict[str, Any] = dict(optim_conf)
    if "params" in conf:
        raise ValueError(
            "optim_conf must not hold 'params': the parameters are those of updated_modules "
            "(or pass optimizer= to wrap an optimizer you built)"
        )
    valid, var_keyword = optimizer_keywords(optim_class)
    unknown = [key for key in conf if key not in valid]
    if unknown and not var_keyword:
        raise ValueError(
            f"optim_conf: unknown key(s) {', '.join(repr(k) for k in unknown)} for "
            f"{optim_class.__name__}; valid keys: {', '.join(repr(v) for v in valid)}"
        )
    check_optim_conf_values(optim_class, conf, "optim_conf")
    if not params:
        raise ValueError(
            f"{optim_class.__name__}: the selected modules have no parameters to optimize"
        )
    return optim_class(params, **conf)


def optimizer_parameters(optimizer: Optimizer) -> list[nn.Parameter]:
    """The parameters of every param group of ``optimizer``, in order, each once."""
    if not isinstance(optimizer, Optimizer):
        raise ValueError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}: "
            f"{optimizer!r}"
        )
    return unique_parameters(p for group in optimizer.param_groups for p in group["params"])


def make_optimizer(
    optim_type: object,
    optim_conf: object,
    optimizer: Optimizer | None,
    *,
    model: nn.Module | None,
    updated_modules: list[str] | None,
) -> Optimizer:
    """The shell's optimizer: ``optimizer`` as given (with neither ``optim_type``,
    ``optim_conf`` nor ``updated_modules``), or ``torch.optim.<optim_type>(params,
    **optim_conf)`` built over the parameters of ``updated_modules`` of ``model``
    (:func:`select_parameters`). Each misuse is a ``ValueError`` saying which to give."""
    if optimizer is not None:
        if optim_type is not None or optim_conf is not None:
            raise ValueError(
                "give either optimizer= (an optimizer you built) or optim_type/optim_conf "
                "(one the shell builds), not both"
            )
        if updated_modules is not None:
            raise ValueError(
                "updated_modules chooses the parameters of an optimizer the shell builds; "
                "with optimizer= its param_groups decide"
            )
        optimizer_parameters(optimizer)  # checks the type
        return optimizer
    if optim_type is None:
        raise ValueError("give optim_type (a torch.optim class name, with model=) or optimizer=")
    if isinstance(optim_type, Optimizer):
        name = type(optim_type).__name__
        raise ValueError(
            f"optim_type (the first argument) got an optimizer ({name} instance); did you "
            f"mean optimizer=? OptimScheduler(optimizer={name}(...), schedule=...) wraps an "
            f"optimizer you built; optim_type names a class for the shell to build"
        )
    optim_class = resolve_optimizer_class(optim_type)
    if model is None:
        raise ValueError(f"optim_type={optim_type!r} needs model= to take parameters from")
    params = select_parameters(model, updated_modules)
    return build_optimizer(optim_class, optim_conf, params)
