"""``check_sche_conf``: the one unknown-key check of ``**sche_conf``, for the shell and the
config parser."""

from __future__ import annotations

import re
from typing import Any

import pytest

from optimsche.sche_conf import check_sche_conf


def test_known_keys_or_any_key_pass() -> None:
    check_sche_conf("NoamLr", ["d_model", "warmup_steps"], {"warmup_steps": 3})
    check_sche_conf("Mine", None, {"whatever": 1})
    check_sche_conf("here", [], {"optim_type": "SGD"}, also_valid=["optim_type"])


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (
            ("NoamLr", ["d_model", "warmup_steps"], {"warmup": 3}),
            {},
            "NoamLr: unknown key 'warmup' for NoamLr.sche_init; did you mean 'warmup_steps'? "
            "(valid keys: 'd_model', 'warmup_steps')",
        ),
        (
            ("NoamLr", ["d_model", "warmup_steps"], {"warmup": 3, "dmodel": 8}),
            {},
            "NoamLr: unknown keys 'warmup', 'dmodel' for NoamLr.sche_init; did you mean "
            "'warmup_steps' or 'd_model'? (valid keys: 'd_model', 'warmup_steps')",
        ),
        (
            ("OptimScheduler", [], {"warmup_steps": 3}),
            {},
            "OptimScheduler: unknown key 'warmup_steps' for OptimScheduler.sche_init (it takes "
            "none: give schedule= for a pure schedule",
        ),
        (
            ("optim_sches.main.conf", ["steps"], {"stesp": 3}),
            {"owner": "schedule 'cosine'", "also_valid": ["optim_type"]},
            "optim_sches.main.conf: unknown key 'stesp' for schedule 'cosine'; did you mean "
            "'steps'? (valid keys: 'optim_type', 'steps')",
        ),
    ],
)
def test_unknown_keys_are_named_with_their_close_matches(
    args: tuple[str, list[str], dict[str, int]], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_sche_conf(*args, **kwargs)
