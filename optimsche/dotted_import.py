"""Importing the object a dotted path names (``"pkg.mod.Attr"``), for ``optim_type`` and a
config's ``type``: the one place that turns such a string into an object."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from schedules.close_matches import did_you_mean


def import_dotted(path: str, what: str, *, suggest: Iterable[str] = ()) -> object:
    """The attribute ``Attr`` of the module ``pkg.mod`` that ``path = "pkg.mod.Attr"`` names.

    Failures are ``ValueError``s starting ``"<what> <path!r>: "`` that name the module which
    cannot be imported (with the ImportError), or the attribute it lacks (with the close
    matches among its public names). ``suggest`` are names ``path`` itself may have meant (a
    registry's own names): their close matches are offered when the module offers none.
    Other errors raised while importing the module (a user module's own bug) propagate.
    """
    module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute or module_name.startswith("."):
        raise ValueError(
            f"{what} {path!r}: not a dotted path 'module.Name'{did_you_mean(path, suggest)}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"{what} {path!r}: cannot import module {module_name!r} ({error})"
            + did_you_mean(path, suggest)
        ) from None
    if not hasattr(module, attribute):
        public = [name for name in dir(module) if not name.startswith("_")]
        hint = did_you_mean(attribute, public) or did_you_mean(path, suggest)
        raise ValueError(f"{what} {path!r}: module {module_name!r} has no {attribute!r}{hint}")
    found: object = getattr(module, attribute)
    return found
