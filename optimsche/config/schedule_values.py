"""Checking the values a configured schedule gives, before anything is built from it.

A configured lr schedule must give a finite number ``>= 0`` at every step (a negative
``peak`` would train by gradient ascent). Its values are checked at
:data:`SAMPLE_STEPS` — steps 0 to 16, then about 1.5× apart up to 10^15, so the start, every
order of magnitude and the value held past any horizon are seen — with the check the shell
applies to every update (:func:`optimsche.optimizer.checked_value.check_value`). A schedule
of several clocks is evaluated with every clock at the sampled value
(``Time(update=s, epoch=s, items=s)``, :func:`schedules.at_time`). This catches
bad *values* (a negative ``peak``, ``final`` or ``end``; a ``warmup`` so small that the
formula overflows); a value that goes wrong only between two sampled steps is still refused
by the shell when that update comes, before it is applied.
"""

from __future__ import annotations

from typing import Any

from optimsche.config.error import ConfigError
from optimsche.optimizer.checked_value import check_value
from schedules.time_record import Time, at_time, clocks_of

SAMPLE_STEPS: tuple[int, ...] = tuple(
    sorted({*range(17), *(int(1.5**k) for k in range(7, 86))} | {10**15})
)
"""The steps at which a configured schedule's values are checked (module doc)."""


def check_schedule_values(schedule: Any, where: str, key: str = "lr") -> None:
    """Raise a :class:`ConfigError` ``"<where>: <key>: the schedule ... gave <value> at step
    <s>; ..."`` at the first of :data:`SAMPLE_STEPS` where ``schedule`` raises or gives
    anything but a finite number ``>= 0``."""
    timed = bool(clocks_of(schedule))
    for step in SAMPLE_STEPS:
        try:
            if timed:
                value = at_time(schedule, Time(update=step, epoch=step, items=step))
            else:
                value = schedule(step)
        except (ValueError, TypeError, ArithmeticError) as error:
            text = " ".join(str(error).split()) or type(error).__name__
            raise ConfigError(
                f"{where}: {key}: the schedule fails at step {step}: {text}"
            ) from None
        try:
            check_value(key, value, schedule=schedule, t=step)
        except ValueError as error:
            raise ConfigError(f"{where}: {error}") from None
