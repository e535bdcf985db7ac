"""``import_dotted``: the one resolver of ``pkg.mod.Attr`` strings (``optim_type``, a config's
``type``)."""

from __future__ import annotations

import re

import pytest
import torch

from optimsche.dotted_import import import_dotted


def test_a_dotted_path_names_the_attribute_of_its_module() -> None:
    assert import_dotted("torch.optim.AdamW", "optim_type") is torch.optim.AdamW


@pytest.mark.parametrize(
    ("path", "suggest", "message"),
    [
        (
            "torch.optim.AdamWW",
            (),
            "x 'torch.optim.AdamWW': module 'torch.optim' has no 'AdamWW'; did you mean 'AdamW'",
        ),
        ("no_such_pkg.Thing", (), "x 'no_such_pkg.Thing': cannot import module 'no_such_pkg' ("),
        (
            "noam.NoamLR",
            ("noam.NoamLr",),
            "cannot import module 'noam' (No module named 'noam'); did you mean 'noam.NoamLr'?",
        ),
        (
            "torch.optim.Zzzzzz",
            ("torch.optim.Zzzzz",),
            "has no 'Zzzzzz'; did you mean 'torch.optim.Zzzzz'?",
        ),
        ("Thing", (), "x 'Thing': not a dotted path 'module.Name'"),
        (".Thing", (), "x '.Thing': not a dotted path 'module.Name'"),
        ("torch.", (), "x 'torch.': not a dotted path 'module.Name'"),
    ],
)
def test_failures_name_the_path_the_module_and_the_close_matches(
    path: str, suggest: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        import_dotted(path, "x", suggest=suggest)
