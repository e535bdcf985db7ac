"""Property checks for any schedule, built-in or a user's own.

Each ``assert_*`` evaluates the schedule where the property must hold and raises
``AssertionError`` with the offending step(s) and value(s) and the schedule's repr when it
does not, so it reads well inside a pytest/hypothesis test::

    from functools import partial
    from schedules.testing import assert_monotone, assert_continuous

    my = partial(my_schedule, peak=0.1, warmup=100, steps=1000)
    assert_monotone(my, 0, 100, increasing=True, strict=True)
    assert_monotone(my, 100, 1000, increasing=False)
    assert_continuous(my, [100, 1000])

A bad argument to the check itself (``start > stop``, a negative tolerance) is a
``ValueError``. Scalar checks call the schedule with Python numbers and require Python
``float`` results; the tensor checks also call it with ``torch.Tensor`` steps.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from schedules.combinator_fields import schedule_repr

AnySchedule = Callable[[Any], Any]
"""What the checks accept: anything callable with a step. Whether it behaves as a
:class:`schedules.schedule_protocol.Schedule` (number in, float out; Tensor in, Tensor out)
is what they find out."""

HUGE_STEP = 10**12


def _name(schedule: object) -> str:
    return schedule_repr(schedule)


def _value(schedule: AnySchedule, step: float) -> float:
    """``schedule(step)``, which must be a Python float (an int is accepted)."""
    value = schedule(step)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AssertionError(
            f"{_name(schedule)} at Python step {step!r} returned {type(value).__name__} "
            f"{value!r}; a Python number step must give a Python float"
        )
    return float(value)


def _require_tolerance(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and value >= 0 and not math.isnan(value)):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")


def _require_steps(steps: Iterable[float]) -> list[float]:
    values = list(steps.tolist() if isinstance(steps, Tensor) else steps)
    if not values:
        raise ValueError("steps must hold at least one step, got none")
    for step in values:
        if isinstance(step, bool) or not isinstance(step, int | float) or math.isnan(step):
            raise ValueError(f"steps must be numbers, got {step!r}")
    return values


def _fit(points: Sequence[float], dtype: torch.dtype) -> bool:
    """Whether an integer ``dtype`` holds every one of ``points``."""
    limits = torch.iinfo(dtype)
    return all(limits.min <= p <= limits.max for p in points)


def grid(start: float, stop: float, max_points: int) -> list[float]:
    """Every integer step of ``[start, stop]`` when both are ints and there are at most
    ``max_points`` of them; otherwise ``max_points`` evenly spaced steps from ``start`` to
    ``stop`` (integers when both ends are)."""
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 2:
        raise ValueError(f"max_points must be an integer >= 2, got {max_points!r}")
    for name, value in (("start", start), ("stop", stop)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if start > stop:
        raise ValueError(f"start must be <= stop, got start={start!r}, stop={stop!r}")
    if isinstance(start, int) and isinstance(stop, int):
        span = stop - start
        if span + 1 <= max_points:
            return list(range(start, stop + 1))
        return sorted({start + span * i // (max_points - 1) for i in range(max_points)})
    if start == stop:
        return [start]
    # min(): float rounding must not carry an interior point past ``stop``; the last is exact
    inner = [
        min(start + (stop - start) * i / (max_points - 1), stop) for i in range(max_points - 1)
    ]
    return [*inner, stop]


def assert_monotone(
    schedule: AnySchedule,
    start: float,
    stop: float,
    *,
    increasing: bool = True,
    strict: bool = False,
    max_points: int = 2001,
    atol: float = 0.0,
) -> None:
    """The schedule never decreases (``increasing=True``) or never increases
    (``increasing=False``) over ``[start, stop]``; with ``strict=True`` every step moves.

    Checked between consecutive steps of :func:`grid` (every integer step of the range, or
    ``max_points`` evenly spaced ones for long ranges). ``atol`` tolerates moves the wrong
    way up to that size (and, with ``strict``, requires moves larger than it).
    """
    _require_tolerance("atol", atol)
    points = grid(start, stop, max_points)
    direction = {
        (True, True): "strictly increasing",
        (True, False): "non-decreasing",
        (False, True): "strictly decreasing",
        (False, False): "non-increasing",
    }[bool(increasing), bool(strict)]
    previous = _value(schedule, points[0])
    for before, step in itertools.pairwise(points):
        value = _value(schedule, step)
        change = value - previous if increasing else previous - value
        ok = change > atol if strict else change >= -atol and not math.isnan(change)
        if not ok:
            raise AssertionError(
                f"{_name(schedule)} is not {direction} on [{start}, {stop}]: "
                f"f({before}) = {previous!r}, f({step}) = {value!r}"
                + (f" (atol {atol})" if atol else "")
            )
        previous = value


def assert_bounded(
    schedule: AnySchedule,
    low: float | None,
    high: float | None,
    steps: Iterable[float],
    *,
    rtol: float = 1e-12,
) -> None:
    """``low <= schedule(s) <= high`` and finite at every step of ``steps``.

    A bound left ``None`` is not checked (finiteness still is). Rounding is forgiven up to
    ``rtol · max(|low|, |high|)``: ``final + (peak - final) · 1`` may land one ulp above
    ``peak``.
    """
    _require_tolerance("rtol", rtol)
    if low is not None and high is not None and low > high:
        raise ValueError(f"low must be <= high, got low={low!r}, high={high!r}")
    scale = max(abs(low or 0.0), abs(high or 0.0))
    slack = rtol * scale
    for step in _require_steps(steps):
        value = _value(schedule, step)
        if not math.isfinite(value):
            raise AssertionError(f"{_name(schedule)} at step {step!r} is {value!r}, not finite")
        if low is not None and value < low - slack:
            raise AssertionError(
                f"{_name(schedule)} at step {step!r} is {value!r}, below the lower bound {low!r}"
            )
        if high is not None and value > high + slack:
            raise AssertionError(
                f"{_name(schedule)} at step {step!r} is {value!r}, above the upper bound {high!r}"
            )


def assert_continuous(
    schedule: AnySchedule,
    boundaries: Iterable[float],
    *,
    h: float = 1e-3,
    slack: float = 2.0,
    rtol: float = 1e-9,
) -> None:
    """No jump at any of ``boundaries`` (phase ends, join points): the change from
    ``b - h`` to ``b`` is no larger than the schedule's own slope there allows.

    With ``f`` evaluated at float steps ``b - 2h, b - h, b, b + h``, the jump
    ``|f(b) - f(b - h)|`` must be at most ``slack · max(|f(b - h) - f(b - 2h)|,
    |f(b + h) - f(b)|) + rtol · max(|f(b)|, |f(b - h)|)``: a kink (the slope changes) passes,
    a step of any size well above the local change over ``h`` fails. The schedule must
    accept float steps; for one that only makes sense at integers, pass ``h=1``.
    """
    _require_tolerance("rtol", rtol)
    _require_tolerance("slack", slack)
    if not (isinstance(h, int | float) and h > 0 and math.isfinite(h)):
        raise ValueError(f"h must be a finite number > 0, got {h!r}")
    for b in _require_steps(boundaries):
        width = max(h, 4 * math.ulp(float(b)))
        left2, left, at, right = (_value(schedule, b + k * width) for k in (-2.0, -1.0, 0.0, 1.0))
        jump = abs(at - left)
        local = max(abs(left - left2), abs(right - at))
        allowed = slack * local + rtol * max(abs(at), abs(left))
        if not jump <= allowed:
            raise AssertionError(
                f"{_name(schedule)} jumps at step {b!r}: f({b - width!r}) = {left!r}, "
                f"f({b!r}) = {at!r} (a change of {jump:.3g}, where the neighbouring changes "
                f"over {width:.3g} are {abs(left - left2):.3g} before and "
                f"{abs(right - at):.3g} after, allowing {allowed:.3g})"
            )


def assert_holds_after(
    schedule: AnySchedule,
    horizon: float,
    steps: Iterable[float] | None = None,
    *,
    rtol: float = 1e-12,
    atol: float = 0.0,
) -> None:
    """From ``horizon`` on the schedule holds its final value ``schedule(horizon)``.

    Checked at ``steps`` (each must be ``>= horizon``), by default ``horizon + 1``,
    ``horizon + 2``, ``horizon + 10``, ``2 · horizon + 1``, ``horizon + 10**6`` and
    ``10**12`` (when beyond the horizon).
    """
    _require_tolerance("rtol", rtol)
    _require_tolerance("atol", atol)
    if steps is None:
        candidates = [horizon + 1, horizon + 2, horizon + 10, 2 * horizon + 1, horizon + 10**6]
        checked = candidates + ([HUGE_STEP] if horizon < HUGE_STEP else [])
    else:
        checked = _require_steps(steps)
        early = [s for s in checked if s < horizon]
        if early:
            raise ValueError(f"steps must be >= horizon ({horizon!r}), got {early!r}")
    final = _value(schedule, horizon)
    for step in checked:
        value = _value(schedule, step)
        if not math.isclose(value, final, rel_tol=rtol, abs_tol=atol):
            raise AssertionError(
                f"{_name(schedule)} does not hold its final value after step {horizon!r}: "
                f"f({horizon!r}) = {final!r} but f({step!r}) = {value!r}"
            )


def assert_changes_only_at(
    schedule: AnySchedule, change_steps: Iterable[float], start: int, stop: int
) -> None:
    """Piecewise constant: for every integer step ``s`` in ``(start, stop]`` that is not in
    ``change_steps``, ``schedule(s) == schedule(s - 1)`` exactly."""
    changes = set(change_steps)
    if start > stop:
        raise ValueError(f"start must be <= stop, got start={start!r}, stop={stop!r}")
    previous = _value(schedule, start)
    for step in range(start + 1, stop + 1):
        value = _value(schedule, step)
        if value != previous and step not in changes:
            raise AssertionError(
                f"{_name(schedule)} changes at step {step}, which is not one of the allowed "
                f"change steps: f({step - 1}) = {previous!r}, f({step}) = {value!r}"
            )
        previous = value


def _close(a: float, b: float, rtol: float, atol: float) -> bool:
    return math.isclose(a, b, rel_tol=rtol, abs_tol=atol) or (math.isnan(a) and math.isnan(b))


def _tensor_call(schedule: AnySchedule, steps: Tensor, what: str) -> Tensor:
    try:
        out = schedule(steps)
    except Exception as error:
        raise AssertionError(f"{_name(schedule)} fails on {what}: {error!r}") from error
    if not isinstance(out, Tensor):
        raise AssertionError(
            f"{_name(schedule)} on {what} returned {type(out).__name__}, not a Tensor"
        )
    if out.shape != steps.shape:
        raise AssertionError(
            f"{_name(schedule)} on {what} of shape {tuple(steps.shape)} returned shape "
            f"{tuple(out.shape)}"
        )
    if not out.is_floating_point():
        raise AssertionError(f"{_name(schedule)} on {what} returned dtype {out.dtype}")
    return out


def assert_scalar_tensor_agree(
    schedule: AnySchedule,
    steps: Iterable[float],
    *,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    dtypes: Sequence[torch.dtype] = (torch.int64, torch.float64),
) -> None:
    """Python and Tensor evaluation agree: for each dtype, ``schedule(torch.tensor(steps))``
    is a floating Tensor of the steps' shape (also as a column ``(n, 1)`` and as 0-d
    tensors) whose elements equal ``schedule(step)`` for each Python step, within ``rtol``
    and ``atol``. Integer dtypes are used only when every step is an integer that the dtype
    holds."""
    _require_tolerance("rtol", rtol)
    _require_tolerance("atol", atol)
    points = _require_steps(steps)
    expected = [_value(schedule, step) for step in points]
    integral = all(float(step).is_integer() for step in points)
    for dtype in dtypes:
        if not dtype.is_floating_point and not (integral and _fit(points, dtype)):
            continue
        what = f"a {dtype} tensor"
        tensor = torch.tensor(points, dtype=dtype)
        got = _tensor_call(schedule, tensor, what).to(torch.float64).tolist()
        column = _tensor_call(schedule, tensor.reshape(-1, 1), f"a column {what}")
        got_column = column.to(torch.float64).reshape(-1).tolist()
        got_zero_d = _tensor_call(schedule, tensor[0], f"a 0-d {what}").item()
        for step, want, g, c in zip(points, expected, got, got_column, strict=True):
            for value, shape in ((g, "1-d"), (c, "column")):
                if not _close(value, want, rtol, atol):
                    raise AssertionError(
                        f"{_name(schedule)} at step {step!r}: {shape} {dtype} tensor gives "
                        f"{value!r}, Python step gives {want!r} (rtol {rtol}, atol {atol})"
                    )
        if not _close(got_zero_d, expected[0], rtol, atol):
            raise AssertionError(
                f"{_name(schedule)} at step {points[0]!r}: 0-d {dtype} tensor gives "
                f"{got_zero_d!r}, Python step gives {expected[0]!r}"
            )


def assert_vmappable(
    schedule: AnySchedule,
    steps: Iterable[float],
    *,
    dtype: torch.dtype = torch.int64,
    rtol: float = 1e-12,
    atol: float = 1e-15,
) -> None:
    """``torch.func.vmap(schedule)`` runs on a 1-d tensor of ``steps`` (no Python branching
    on tensor values, no ``.item()``) and gives what ``schedule(tensor)`` gives. A step that
    ``dtype`` cannot hold is a ``ValueError``."""
    _require_tolerance("rtol", rtol)
    _require_tolerance("atol", atol)
    points = _require_steps(steps)
    if not dtype.is_floating_point and not _fit(points, dtype):
        limits = torch.iinfo(dtype)
        raise ValueError(
            f"steps must fit {dtype} ([{limits.min}, {limits.max}]) to be vmapped as one, got "
            f"{[p for p in points if not limits.min <= p <= limits.max][:3]!r}"
        )
    tensor = torch.tensor(points, dtype=dtype)
    direct = _tensor_call(schedule, tensor, f"a {dtype} tensor")
    try:
        batched = torch.func.vmap(schedule)(tensor)
    except Exception as error:
        raise AssertionError(
            f"{_name(schedule)} is not vmappable over {dtype} steps: {error!r}"
        ) from error
    if not isinstance(batched, Tensor) or batched.shape != tensor.shape:
        raise AssertionError(
            f"vmap({_name(schedule)}) returned {batched!r}, not a tensor of shape "
            f"{tuple(tensor.shape)}"
        )
    for step, b, d in zip(tensor.tolist(), batched.tolist(), direct.tolist(), strict=True):
        if not _close(b, d, rtol, atol):
            raise AssertionError(
                f"vmap({_name(schedule)}) at step {step!r} gives {b!r}, the unbatched call "
                f"gives {d!r}"
            )


def _vmap_call(
    schedule_of: Callable[..., Any],
    factory: bool,
    name: str,
    value: Any,
    steps: Tensor,
    hyperparameters: Mapping[str, Any],
) -> Any:
    if factory:
        return schedule_of(**{name: value}, **hyperparameters)(steps)
    return schedule_of(steps, **{name: value}, **hyperparameters)


def assert_vmappable_over(
    schedule_of: Callable[..., Any],
    name: str,
    values: Sequence[float] | Tensor,
    steps: Iterable[float],
    hyperparameters: Mapping[str, Any] | None = None,
    *,
    factory: bool = False,
    dtype: torch.dtype = torch.int64,
    rtol: float = 1e-12,
    atol: float = 1e-15,
) -> None:
    """The hyperparameter ``name`` may be a Tensor: ``torch.func.vmap`` over a batch of its
    ``values`` runs in one call and gives, row by row, what each value gives as a Python
    number; so does one call with the values as a column (``values[:, None]``, broadcasting
    with the steps) and with a 0-d Tensor.

    ``schedule_of`` is a leaf-style function, called as ``schedule_of(steps, name=v,
    **hyperparameters)`` (``schedules.cosine``, or a user's own), or, with
    ``factory=True``, a function returning a schedule: ``schedule_of(name=v,
    **hyperparameters)(steps)`` (``lambda factor: schedules.scale(base, factor)``). The
    steps are a 1-d Tensor of ``dtype``; ``values`` are taken as ``float64``.

    A schedule that branches in Python on the hyperparameter's value (``if peak > 0: ...``),
    converts it to a number (``float(peak)``) or refuses Tensors fails this check. Values
    are compared within ``rtol``/``atol``, or the precision of the coarsest dtype computed
    (float32 arithmetic is compared at float32's precision).
    """
    _require_tolerance("rtol", rtol)
    _require_tolerance("atol", atol)
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a hyperparameter name, got {name!r}")
    batch = (
        values.detach().to(torch.float64)
        if isinstance(values, Tensor)
        else torch.tensor([float(v) for v in values], dtype=torch.float64)
    )
    if batch.dim() != 1 or len(batch) == 0:
        raise ValueError(f"values must be a non-empty 1-d sequence, got {values!r}")
    tensor = torch.tensor(_require_steps(steps), dtype=dtype)
    extra = dict(hyperparameters or {})
    what = f"{_name(schedule_of)} over {name}"
    rows = []
    for value in batch.tolist():
        row = _vmap_call(schedule_of, factory, name, value, tensor, extra)
        if not isinstance(row, Tensor) or row.shape != tensor.shape:
            raise AssertionError(
                f"{what}: with {name}={value!r} on a tensor of steps it returned {row!r}, not "
                f"a tensor of shape {tuple(tensor.shape)}"
            )
        rows.append(row)
    expected = torch.stack([row.to(torch.float64) for row in rows])
    coarsest = min((row.dtype for row in rows), key=lambda d: torch.finfo(d).bits)

    def one(value: Tensor) -> Any:
        return _vmap_call(schedule_of, factory, name, value, tensor, extra)

    checks: list[tuple[str, Callable[[], Any], Tensor]] = [
        ("torch.func.vmap over it", lambda: torch.func.vmap(one)(batch), expected),
        ("a column of values (broadcast)", lambda: one(batch[:, None]), expected),
        ("a 0-d Tensor value", lambda: one(batch[0]), expected[0]),
    ]
    for label, run, want in checks:
        try:
            got = run()
        except Exception as error:
            raise AssertionError(f"{what} is not vmappable: {label} fails: {error!r}") from error
        if not isinstance(got, Tensor) or got.shape != want.shape:
            raise AssertionError(
                f"{what}: {label} gives {got!r}, not a tensor of shape {tuple(want.shape)}"
            )
        got64 = got.detach().to(torch.float64)
        # a schedule computing in float32 for a number is compared at float32's precision
        dtype = min(coarsest, got.dtype, key=lambda d: torch.finfo(d).bits)
        slack = 4 * torch.finfo(dtype).eps if dtype != torch.float64 else 0.0
        close = torch.isclose(
            got64,
            want,
            rtol=max(rtol, slack),
            atol=max(atol, slack * float(want.abs().max())),
            equal_nan=True,
        )
        if not bool(close.all()):
            index = tuple(int(i) for i in (~close).nonzero()[0])
            raise AssertionError(
                f"{what}: {label} gives {got64[index].item()!r} at {index}, the value as a "
                f"number gives {want[index].item()!r} (rtol {rtol}, atol {atol})"
            )
