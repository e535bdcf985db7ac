"""StepReport: host and device-backed skip, lazily read device values, ``as_dict``."""

from __future__ import annotations

import math

import attrs
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from optimsche import StepReport
from optimsche.step_report import SKIP_AMP_OVERFLOW, SKIP_CODES, SKIP_NONFINITE
from optimsche.testing.host_syncs import counting_host_syncs


def report(**given: object) -> StepReport:
    fields: dict[str, object] = {"step_num": 4, "real_step": 2, "lr": 0.1, "grad_norm": None}
    fields.update(given)
    return StepReport(**fields)  # type: ignore[arg-type]


def test_the_former_keywords_still_make_a_host_report() -> None:
    r = StepReport(
        step_num=4, real_step=2, updated=False, skipped=SKIP_NONFINITE, lr=0.1, grad_norm=None
    )
    assert (r.updated, r.skipped, r.skip_code, r.lrs, r.loss, r.flushed) == (
        False, SKIP_NONFINITE, None, (), None, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("code", "updated", "skipped"),
    [(0, True, None), (1, False, SKIP_NONFINITE), (2, False, SKIP_AMP_OVERFLOW)],
)
@pytest.mark.parametrize("given_as", ["updated", "skipped", "both"])
def test_a_skip_code_tensor_is_read_once_on_first_read(
    code: int, updated: bool, skipped: str | None, given_as: str
) -> None:
    tensor = torch.tensor(code, dtype=torch.int32)
    keys = ("updated", "skipped") if given_as == "both" else (given_as,)
    with counting_host_syncs() as syncs:
        r = report(**dict.fromkeys(keys, tensor), grad_norm=torch.tensor(0.5))
    assert syncs.reads == []  # making the report reads nothing
    assert r.skip_code is tensor
    with counting_host_syncs() as syncs:
        assert r.updated is updated
        assert r.skipped == skipped
        assert r.updated is updated
    assert len(syncs.reads) == 1  # the first read syncs, the others are kept
    assert SKIP_CODES[code] == skipped


def test_as_dict_reads_every_device_value_in_one_sync() -> None:
    norm, loss, code = torch.tensor(2.5), torch.tensor(0.75), torch.tensor(0)
    with counting_host_syncs() as syncs:
        r = report(updated=code, grad_norm=norm, loss=loss, lrs=(0.1, 0.05))
    assert syncs.reads == []
    with counting_host_syncs() as syncs:
        values = r.as_dict()
    assert len(syncs.reads) == 1
    assert values == {
        "lr": 0.1, "lr/group0": 0.1, "lr/group1": 0.05, "grad_norm": 2.5, "loss": 0.75,
        "skipped": 0.0, "updated": 1.0, "step_num": 4.0, "real_step": 2.0,
    }  # fmt: skip
    assert all(type(v) is float for v in values.values())
    with counting_host_syncs() as syncs:
        assert r.as_dict("train/") == {f"train/{k}": v for k, v in values.items()}
        assert r.updated and r.skipped is None
    assert syncs.reads == []  # read once, kept


def test_as_dict_of_a_host_report_syncs_never_and_leaves_out_what_is_unknown() -> None:
    r = report(updated=False, lrs=(0.3,))
    with counting_host_syncs() as syncs:
        values = r.as_dict("opt/")
    assert syncs.reads == []
    assert values == {
        "opt/lr": 0.1, "opt/skipped": 0.0, "opt/updated": 0.0, "opt/step_num": 4.0,
        "opt/real_step": 2.0,
    }  # fmt: skip
    assert report(updated=True, loss=2).as_dict()["loss"] == 2.0


def test_reading_the_skip_code_reads_the_other_device_values_in_the_same_sync() -> None:
    r = report(skipped=torch.tensor(1), grad_norm=torch.tensor(math.inf), loss=torch.tensor(3.0))
    with counting_host_syncs() as syncs:
        assert r.skipped == SKIP_NONFINITE
        values = r.as_dict()
    assert len(syncs.reads) == 1
    assert values["grad_norm"] == math.inf and values["skipped"] == 1.0 and values["loss"] == 3.0


def test_mixed_dtypes_are_read_in_their_promoted_dtype() -> None:
    norm = torch.tensor(1 / 3, dtype=torch.float64)
    loss = torch.tensor(0.5, dtype=torch.bfloat16)
    values = report(updated=torch.tensor(0, dtype=torch.uint8), grad_norm=norm, loss=loss).as_dict()
    assert values["grad_norm"] == 1 / 3 and values["loss"] == 0.5 and values["updated"] == 1.0


def test_a_loss_is_held_without_its_graph() -> None:
    x = torch.ones(3, requires_grad=True)
    loss = (x * 2).sum()
    r = report(updated=True, loss=loss, grad_norm=torch.linalg.vector_norm(x))
    assert isinstance(r.loss, torch.Tensor) and r.loss.grad_fn is None
    assert r.grad_norm is not None and r.grad_norm.grad_fn is None
    assert r.as_dict()["loss"] == 6.0


def test_lrs_become_a_tuple_of_floats() -> None:
    r = report(updated=True, lrs=[1, 0.5])
    assert r.lrs == (1.0, 0.5) and all(type(lr) is float for lr in r.lrs)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"updated": True, "skipped": "nonfinit"}, "did you mean 'nonfinite'"),
        ({"updated": True, "skipped": SKIP_NONFINITE}, "updated=True contradicts"),
        ({"skipped": None}, "updated is required"),
        ({"updated": 1}, "updated must be a bool or a skip-code Tensor, got int"),
        ({"updated": False, "skipped": 1}, "skipped must be None, 'nonfinite'"),
        ({"updated": torch.tensor(0.0)}, "integer dtype"),
        ({"updated": torch.tensor(True)}, "integer dtype"),
        ({"skipped": torch.tensor([0, 1])}, r"skipped must be a one-element Tensor.*\(2,\)"),
        ({"updated": torch.tensor(0), "skipped": torch.tensor(0)}, "skipped must be left out"),
        ({"updated": torch.tensor(0), "skipped": SKIP_NONFINITE}, "skipped must be left out"),
        ({"updated": False, "skipped": torch.tensor(1)}, "updated must be left out"),
        ({"updated": True, "grad_norm": torch.ones(2)}, "grad_norm must be a one-element"),
        ({"updated": True, "grad_norm": 1.0}, "grad_norm must be a one-element Tensor"),
        ({"updated": True, "loss": "0.5"}, "loss must be a one-element Tensor, a number"),
        ({"updated": True, "loss": True}, "loss must be .* got bool"),
        ({"updated": True, "loss": torch.zeros(2, 2)}, "loss must be a one-element Tensor"),
        ({"updated": True, "lrs": "0.1"}, "lrs must be a tuple of numbers"),
        ({"updated": True, "lrs": (0.1, math.nan)}, r"lrs\[1\] must be finite"),
        ({"updated": True, "lrs": (0.1, torch.tensor(0.2))}, r"lrs\[1\] must be a Python number"),
        ({"updated": True, "flushed": "report"}, "flushed must be a StepReport"),
    ],
)
def test_bad_values_are_refused_with_the_key_and_the_value(
    given: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        report(**given)


def test_a_skip_code_out_of_range_is_refused_when_read() -> None:
    r = report(updated=torch.tensor(3))
    with pytest.raises(ValueError, match=r"skip code must be 0 .* read 3"):
        _ = r.updated


def test_as_dict_refuses_a_prefix_that_is_not_a_string() -> None:
    with pytest.raises(ValueError, match="prefix must be a str, got int: 1"):
        report(updated=True).as_dict(1)  # type: ignore[arg-type]


def test_still_a_frozen_record() -> None:
    r = report(updated=torch.tensor(0))
    with pytest.raises(AttributeError):
        r.updated = True  # type: ignore[misc]
    with pytest.raises(AttributeError):
        r.lrs = ()  # type: ignore[misc]
    assert report(updated=True, lrs=(0.1,)) == report(updated=True, lrs=(0.1,))
    assert report(updated=True) != report(updated=False)


@given(
    code=st.sampled_from([0, 1, 2]),
    norm=st.floats(allow_nan=True, allow_infinity=True, width=32),
    loss=st.one_of(st.none(), st.floats(width=32)),
    lrs=st.lists(st.floats(1e-6, 10.0), max_size=4).map(tuple),
    prefix=st.sampled_from(["", "train/", "opt."]),
)
def test_a_device_report_reads_as_the_host_report_of_the_same_values(
    code: int, norm: float, loss: float | None, lrs: tuple[float, ...], prefix: str
) -> None:
    device = report(
        skipped=torch.tensor(code),
        grad_norm=torch.tensor(norm),
        loss=None if loss is None else torch.tensor(loss),
        lrs=lrs,
    )
    host = report(
        updated=code == 0,
        skipped=SKIP_CODES[code],
        grad_norm=torch.tensor(norm),
        loss=loss,
        lrs=lrs,
    )
    with counting_host_syncs() as syncs:
        got = device.as_dict(prefix)
    assert len(syncs.reads) == 1
    want = host.as_dict(prefix)
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == value or (math.isnan(got[key]) and math.isnan(value)), key
    assert (device.updated, device.skipped) == (host.updated, host.skipped)


def test_repr_shows_the_values_as_read() -> None:
    host = report(updated=False, skipped=SKIP_NONFINITE)
    assert repr(host) == (
        "StepReport(step_num=4, real_step=2, updated=False, skipped='nonfinite', lr=0.1, "
        "grad_norm=None)"
    )
    device = report(skipped=torch.tensor(2), lrs=(0.1, 0.2), loss=1.5, flushed=host)
    assert repr(device) == (
        "StepReport(step_num=4, real_step=2, updated=False, skipped='amp_overflow', lr=0.1, "
        f"grad_norm=None, lrs=(0.1, 0.2), loss=1.5, flushed={host!r})"
    )


@pytest.mark.parametrize(
    ("step_num", "real_step", "lr"), [(1, 1, 0.0), (7, 2, 3e-4), (10**9, 25, 1)]
)
def test_the_idle_report_equals_the_constructors(step_num: int, real_step: int, lr: float) -> None:
    """``StepReport.idle`` (the shell's hot path, no checks) makes the report the constructor
    makes for a micro-step that did not update: every field, equality, repr, as_dict."""
    fast = StepReport.idle(step_num, real_step, lr)
    made = StepReport(step_num=step_num, real_step=real_step, updated=False, lr=lr)
    for field in attrs.fields(StepReport):
        assert getattr(fast, field.name) == getattr(made, field.name), field.name
    assert fast == made and repr(fast) == repr(made)
    assert fast.as_dict() == made.as_dict()
    assert not fast.updated and fast.skipped is None and fast.skip_code is None
