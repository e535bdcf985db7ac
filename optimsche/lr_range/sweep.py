"""The lr of each update of an lr range test: a pure schedule from ``min_lr`` to ``max_lr``.

Update ``k`` (1-based) of a sweep of ``N`` updates gets::

    exponential:  min_lr · (max_lr / min_lr) ** ((k - 1) / (N - 1))
    linear:       min_lr + (max_lr - min_lr) · (k - 1) / (N - 1)

so the first update runs at ``min_lr`` and the last at ``max_lr``. Both are the library's own
leaves, bound once (:func:`schedules.exponential` with ``rate = max_lr / min_lr``,
``steps = N - 1``, ``begin = 1``; :func:`schedules.linear`), so the sweep is the same
schedule function a run would use, evaluated by the shell at each update's real step.
"""

from __future__ import annotations

from collections.abc import Callable

import schedules

SWEEP_MODES = ("exponential", "linear")
"""The shapes of the sweep: geometric steps (fastai's and Lightning's default) or equal steps."""


def sweep_schedule(
    min_lr: float, max_lr: float, num_updates: int, mode: str
) -> Callable[[int], float]:
    """The schedule ``real_step -> lr`` of the sweep (module doc); the arguments are checked
    by :func:`optimsche.lr_range.range_test.lr_range_test`."""
    steps = num_updates - 1
    if mode == "exponential":
        return schedules.bind(  # type: ignore[no-any-return]
            schedules.exponential, start=min_lr, rate=max_lr / min_lr, steps=steps, begin=1
        )
    return schedules.bind(  # type: ignore[no-any-return]
        schedules.linear, start=min_lr, end=max_lr, steps=steps, begin=1
    )
