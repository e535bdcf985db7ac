"""Importing the object a dotted path names (``"pkg.mod.Attr"``), for ``optim_type`` and a
config's ``type``: the one place that turns such a string into an object.

Importing a module runs its code, so a config that names ``mypkg.optim.Lion`` runs
``mypkg``: a config is code (like Hydra's ``_target_``). Inside :func:`imports_limited_to`
(``optimsche show`` and ``plot`` use it unless given ``--allow-imports``) a path outside the
given top-level packages is refused before anything is imported.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
from collections.abc import Iterable, Iterator

from schedules.close_matches import did_you_mean

_ALLOWED_ROOTS: contextvars.ContextVar[frozenset[str] | None] = contextvars.ContextVar(
    "optimsche_allowed_import_roots", default=None
)


class ImportRefused(ValueError):
    """A dotted path outside the packages :func:`imports_limited_to` allows; ``reason`` is
    the message without the ``what``/path prefix."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@contextlib.contextmanager
def imports_limited_to(roots: Iterable[str]) -> Iterator[None]:
    """Within this context :func:`import_dotted` imports only modules of the top-level
    packages ``roots`` (``{"schedules", "optimsche", "torch"}``) and refuses any other path
    with a ``ValueError`` before importing it."""
    token = _ALLOWED_ROOTS.set(frozenset(roots))
    try:
        yield
    finally:
        _ALLOWED_ROOTS.reset(token)


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
    allowed = _ALLOWED_ROOTS.get()
    root = module_name.split(".", 1)[0]
    if allowed is not None and root not in allowed:
        reason = (
            f"importing module {module_name!r} would run its code, and this command imports "
            f"only from {', '.join(sorted(allowed))}; a config is code: pass --allow-imports "
            f"if you trust this one"
        )
        raise ImportRefused(f"{what} {path!r}: {reason}", reason)
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
