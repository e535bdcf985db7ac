"""Every public name of ``optimsche`` is the object it names, also after its home module (and
every other submodule) was imported: a submodule named like a public name would replace it."""

from __future__ import annotations

import importlib
import pkgutil
import types

import optimsche


def test_public_names_stay_objects_after_every_submodule_is_imported() -> None:
    for info in pkgutil.walk_packages(optimsche.__path__, "optimsche."):
        if ".demo" in info.name or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    for name in optimsche.__all__:
        value = getattr(optimsche, name)
        assert not isinstance(value, types.ModuleType), f"optimsche.{name} is a module"
