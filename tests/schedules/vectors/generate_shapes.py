"""Generate shapes.json (leaf cases) and ../combinator_vectors/shapes.json (expressions) once,
for the shapes of issue 18: power_decay, the warmup and decay shapes of warmup_stable_decay and
of the warmup combinator, polynomial(cycle=True), cosine(cycle=True).

Where the anchor installs, its own code produces the numbers: transformers
``optimization`` (``get_wsd_schedule``, ``get_inverse_sqrt_schedule``) and SpeechBrain
``speechbrain.nnet.schedulers`` (``LinearNoamScheduler``, ``CyclicCosineScheduler``). Run in a
throwaway environment that has them (SpeechBrain's package ``__init__`` needs torchaudio; only
its scheduler module is imported, its packages stubbed):

    python3 -m venv /tmp/anchor && /tmp/anchor/bin/pip install torch==2.13.0 transformers \\
        speechbrain
    /tmp/anchor/bin/python generate_shapes.py

Where it does not (NVIDIA NeMo ``nemo/core/optim/lr_scheduler.py``, Megatron-LM
``megatron/core/optimizer_param_scheduler.py``, icefall ``zipformer/optim.py``), the formula
was read from its source (NeMo 3.0.0's wheel, Megatron-LM and icefall on GitHub) and is written
out below, in this script only, in the source's own arithmetic; each case's ``anchor`` says so.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import json
import math
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
Case = dict[str, Any]


def _speechbrain_schedulers() -> tuple[Any, str]:
    version = importlib.metadata.version("speechbrain")
    if "speechbrain.nnet.schedulers" in sys.modules:
        return sys.modules["speechbrain.nnet.schedulers"], version
    spec = importlib.util.find_spec("speechbrain")
    assert spec is not None and spec.origin is not None
    root = os.path.dirname(spec.origin)
    for name in ("speechbrain", "speechbrain.utils", "speechbrain.nnet"):
        package = types.ModuleType(name)
        package.__path__ = [os.path.join(root, *name.split(".")[1:])]
        sys.modules[name] = package
    return importlib.import_module("speechbrain.nnet.schedulers"), version


def _lambda_lr(make: Callable[[Any], Any], lr: float, steps: list[int]) -> list[float]:
    """lr at each step of a transformers LambdaLR (its lr_lambda times the base lr)."""
    import torch

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make(optimizer)
    return [lr * scheduler.lr_lambdas[0](s) for s in steps]


def _speechbrain_calls(scheduler: Any, lr: float, calls: int) -> list[float]:
    """The optimizer's lr after each of ``calls`` calls of a SpeechBrain scheduler."""
    import torch

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    values = []
    for _ in range(calls):
        scheduler(optimizer)
        values.append(optimizer.param_groups[0]["lr"])
    return values


# --- formulas read from the sources of anchors that do not install -------------------------


def nemo_noam_hold(lr: float, step: int, warmup: int, hold: int, rate: float) -> float:
    """NeMo NoamHoldAnnealing after its hold (``_noam_hold_annealing``, min_lr 0):
    lr · max(1, warmup^rate) / max(1, (step - hold)^rate)."""
    return lr * max(1, warmup**rate) / max(1, (step - hold) ** rate)


def nemo_inverse_sqrt(lr: float, step: int, warmup: int) -> float:
    """NeMo InverseSquareRootAnnealing._get_lr: lr / ((step + 1) / (warmup + 1)) ** 0.5."""
    return lr / ((step + 1) / (warmup + 1)) ** 0.5


def nemo_poly_decay(lr: float, step: int, decay_steps: int, power: float, min_lr: float) -> float:
    """NeMo ``_poly_decay(..., cycle=True)`` (TF PolynomialDecay(cycle=True))."""
    multiplier = 1.0 if step == 0 else math.ceil(step / decay_steps)
    p = step / (decay_steps * multiplier)
    return (lr - min_lr) * math.pow(1.0 - p, power) + min_lr


def nemo_cosine_annealing(
    lr: float, step: int, warmup: int, max_steps: int, min_lr: float
) -> float:
    """NeMo CosineAnnealing (constant_steps 0): WarmupAnnealHoldPolicy's warmup
    (step + 1) / (warmup + 1), then ``_cosine_annealing`` over max_steps - warmup, min_lr
    after max_steps."""
    if warmup > 0 and step <= warmup:
        return lr * (step + 1) / (warmup + 1)
    if step > max_steps:
        return min_lr
    mult = 0.5 * (1 + math.cos(math.pi * (step - warmup) / (max_steps - warmup)))
    return (lr - min_lr) * mult + min_lr


def eden_factor(count: float, lr_count: float, exponent: float) -> float:
    """icefall Eden's factor ((count² + lr_count²) / lr_count²) ** -exponent (exponent ¼ for
    Eden, ½ for Eden2)."""
    return ((count**2 + lr_count**2) / lr_count**2) ** -exponent


def megatron_wsd(
    step: int, init: float, top: float, low: float, warmup: int, total: int, anneal: int, style: str
) -> float:
    """Megatron OptimizerParamScheduler.get_lr with lr_decay_style 'WSD'."""
    if warmup > 0 and step <= warmup:
        return init + (top - init) * float(step) / float(warmup)
    if step > total:
        return low
    start = total - anneal
    if step <= start:
        coeff = 1.0
    else:
        ratio = float(step - start) / float(anneal)
        if style == "linear":
            coeff = 1.0 - ratio
        elif style == "cosine":
            coeff = 0.5 * (math.cos(math.pi * ratio) + 1.0)
        elif style == "exponential":
            coeff = 2.0 * math.pow(0.5, ratio) - 1.0
        else:  # minus_sqrt
            coeff = 1.0 - math.sqrt(ratio)
    return low + coeff * (top - low)


# --- the cases ------------------------------------------------------------------------------


def leaf_cases() -> list[Case]:
    import transformers.optimization as tf

    sb, sb_version = _speechbrain_schedulers()
    tf_version = importlib.metadata.version("transformers")
    cases: list[Case] = []

    def add(
        fn: str, kwargs: dict[str, Any], steps: list[Any], expected: list[float], anchor: str
    ) -> None:
        cases.append(
            {"fn": fn, "kwargs": kwargs, "steps": steps, "expected": expected, "anchor": anchor}
        )

    # power_decay -------------------------------------------------------------------------
    for lr_count, exponent, steps in [
        (5000, 0.25, [0, 1, 10, 100, 1000, 4999, 5000, 5001, 20000, 123456, 10**7]),
        (6, 0.25, list(range(0, 40))),
        (100, 0.5, list(range(0, 400, 7))),
    ]:
        add(
            "power_decay",
            {"peak": 1.0, "scale": lr_count, "exponent": exponent, "order": 2.0},
            steps,
            [eden_factor(s, lr_count, exponent) for s in steps],
            f"icefall zipformer/optim.py Eden{'2' if exponent == 0.5 else ''} factor "
            f"((s**2 + {lr_count}**2) / {lr_count}**2) ** -{exponent}, formula from its source",
        )
    for rate in (1.0, 0.5, 0.7):
        warmup, hold, lr = 10, 20, 0.05
        steps = list(range(warmup + hold, 200))
        add(
            "power_decay",
            {"peak": lr, "scale": warmup, "exponent": rate, "begin": warmup + hold},
            steps,
            [nemo_noam_hold(lr, s, warmup, hold, rate) for s in steps],
            f"NeMo 3.0.0 NoamHoldAnnealing(warmup_steps={warmup}, hold_steps={hold}, "
            f"decay_rate={rate}) after its hold, formula from its source",
        )
    steps = list(range(10, 300, 3))
    add(
        "power_decay",
        {"peak": 0.02, "scale": 11, "exponent": 0.5, "begin": 10},
        steps,
        [nemo_inverse_sqrt(0.02, s, 10) for s in steps],
        "NeMo 3.0.0 InverseSquareRootAnnealing(warmup_steps=10) after its warm-up, formula "
        "from its source",
    )
    lr, warmup, keep = 0.8, 5, 7
    values = _speechbrain_calls(sb.LinearNoamScheduler(lr, warmup, keep), lr, 80)
    calls = list(range(1, 81))
    add(
        "power_decay",
        {"peak": lr, "scale": warmup, "exponent": 1.0, "begin": warmup + keep},
        calls[warmup + keep - 1 :],
        values[warmup + keep - 1 :],
        f"speechbrain {sb_version} LinearNoamScheduler({lr}, {warmup}, {keep}) at its n-th "
        "call (n = step), after its warm-up",
    )
    for warmup, timescale in [(10, 25), (8, 8)]:
        steps = list(range(warmup, 400, 9))
        add(
            "power_decay",
            {"peak": 0.3, "scale": timescale, "exponent": 0.5, "begin": warmup},
            steps,
            _lambda_lr(
                lambda o, w=warmup, t=timescale: tf.get_inverse_sqrt_schedule(o, w, timescale=t),
                0.3,
                steps,
            ),
            f"transformers {tf_version} get_inverse_sqrt_schedule(num_warmup_steps={warmup}, "
            f"timescale={timescale}) after its warm-up",
        )

    # warmup_stable_decay: transformers' warmup/decay types and min_lr_ratio ----------------
    for warmup_type in ("linear", "cosine", "1-sqrt"):
        for decay_type in ("linear", "cosine", "1-sqrt"):
            for ratio in (0.0, 0.1):
                w, n, d, lr = 6, 4, 9, 0.5
                steps = list(range(0, w + n + d + 4))
                add(
                    "warmup_stable_decay",
                    {
                        "peak": lr,
                        "warmup": w,
                        "stable": n,
                        "decay": d,
                        "final": ratio * lr,
                        "shape": decay_type,
                        "start": ratio * lr,
                        "warmup_shape": warmup_type,
                    },
                    steps,
                    _lambda_lr(
                        functools.partial(
                            tf.get_wsd_schedule,
                            num_warmup_steps=w,
                            num_decay_steps=d,
                            num_stable_steps=n,
                            warmup_type=warmup_type,
                            decay_type=decay_type,
                            min_lr_ratio=ratio,
                        ),
                        lr,
                        steps,
                    ),
                    f"transformers {tf_version} get_wsd_schedule(num_warmup_steps={w}, "
                    f"num_decay_steps={d}, num_stable_steps={n}, warmup_type={warmup_type!r}, "
                    f"decay_type={decay_type!r}, min_lr_ratio={ratio})",
                )
    for style, shape in [
        ("linear", "linear"),
        ("cosine", "cosine"),
        ("exponential", "exponential"),
        ("minus_sqrt", "1-sqrt"),
    ]:
        init, top, low, warmup, total, anneal = 0.001, 0.01, 0.0005, 5, 40, 12
        steps = list(range(0, total + 4))
        add(
            "warmup_stable_decay",
            {
                "peak": top,
                "warmup": warmup,
                "stable": total - anneal - warmup,
                "decay": anneal,
                "final": low,
                "shape": shape,
                "start": init,
            },
            steps,
            [megatron_wsd(s, init, top, low, warmup, total, anneal, style) for s in steps],
            f"Megatron-LM OptimizerParamScheduler(init_lr={init}, max_lr={top}, "
            f"min_lr={low}, lr_warmup_steps={warmup}, lr_decay_steps={total}, "
            f"lr_decay_style='WSD', wsd_decay_steps={anneal}, lr_wsd_decay_style={style!r}) at "
            "num_steps = step, formula from its source",
        )

    # polynomial(cycle=True) --------------------------------------------------------------
    for decay_steps, power, low in [(10, 2.0, 0.01), (7, 1.0, 0.0), (5, 0.5, 0.1)]:
        steps = list(range(0, 60))
        add(
            "polynomial",
            {"start": 1.0, "end": low, "steps": decay_steps, "power": power, "cycle": True},
            steps,
            [nemo_poly_decay(1.0, s, decay_steps, power, low) for s in steps],
            f"NeMo 3.0.0 _poly_decay(1.0, step, decay_steps={decay_steps}, power={power}, "
            f"min_lr={low}, cycle=True) (TF PolynomialDecay(cycle=True)), formula from its "
            "source",
        )

    # cosine(cycle=True): SpeechBrain's CyclicCosineScheduler, shifted by its warm-up --------
    for warmup, lr, total in [(5, 0.3, 10), (1, 1.0, 7), (20, 0.5, 6)]:
        values = _speechbrain_calls(sb.CyclicCosineScheduler(warmup, lr, total), lr, 70)
        add(
            "cosine",
            {"peak": lr, "steps": total, "cycle": True},
            [n - warmup for n in range(1, 71)],
            values,
            f"speechbrain {sb_version} CyclicCosineScheduler(n_warmup_steps={warmup}, "
            f"lr_initial={lr}, total_steps={total}) at its n-th call (step = n - {warmup})",
        )
    return cases


def expression_cases() -> list[Case]:
    import transformers.optimization as tf

    sb, sb_version = _speechbrain_schedulers()
    tf_version = importlib.metadata.version("transformers")
    cases: list[Case] = []

    lr, warmup, keep = 0.8, 5, 7
    cases.append(
        {
            "expr": {
                "combinator": "warmup",
                "schedule": {
                    "leaf": "power_decay",
                    "kwargs": {"peak": lr, "scale": warmup, "exponent": 1.0, "begin": keep},
                },
                "steps": warmup,
            },
            "steps": list(range(1, 81)),
            "expected": _speechbrain_calls(sb.LinearNoamScheduler(lr, warmup, keep), lr, 80),
            "anchor": f"speechbrain {sb_version} LinearNoamScheduler({lr}, {warmup}, {keep}) "
            "at its n-th call (n = step)",
        }
    )
    for shape in ("linear", "cosine", "1-sqrt"):
        w, n, d, lr, ratio = 6, 3, 8, 0.4, 0.25
        steps = list(range(0, w + n + d + 4))
        cases.append(
            {
                "expr": {
                    "combinator": "warmup",
                    "schedule": {
                        "leaf": "linear",
                        "kwargs": {"start": lr, "end": ratio * lr, "steps": d, "begin": n},
                    },
                    "steps": w,
                    "start": ratio * lr,
                    "shape": shape,
                },
                "steps": steps,
                "expected": _lambda_lr(
                    lambda o, s=shape, w=w, n=n, d=d, ratio=ratio: tf.get_wsd_schedule(
                        o,
                        w,
                        d,
                        num_stable_steps=n,
                        warmup_type=s,
                        decay_type="linear",
                        min_lr_ratio=ratio,
                    ),
                    lr,
                    steps,
                ),
                "anchor": f"transformers {tf_version} get_wsd_schedule(num_warmup_steps={w}, "
                f"num_decay_steps={d}, num_stable_steps={n}, warmup_type={shape!r}, "
                f"decay_type='linear', min_lr_ratio={ratio})",
            }
        )
    lr, warmup, max_steps, low = 0.1, 8, 50, 0.001
    steps = list(range(0, max_steps + 5))
    cases.append(
        {
            "expr": {
                "combinator": "warmup",
                "schedule": {
                    "leaf": "cosine",
                    "kwargs": {"peak": lr, "steps": max_steps - warmup, "final": low},
                },
                "steps": warmup,
                "start": lr / (warmup + 1),
            },
            "steps": steps,
            "expected": [nemo_cosine_annealing(lr, s, warmup, max_steps, low) for s in steps],
            "anchor": f"NeMo 3.0.0 CosineAnnealing(warmup_steps={warmup}, "
            f"max_steps={max_steps}, min_lr={low}) at step (last_epoch), formula from its source",
        }
    )
    return cases


def main() -> None:
    leaves = leaf_cases()
    (HERE / "shapes.json").write_text(json.dumps(leaves, indent=1) + "\n")
    expressions = expression_cases()
    target = HERE.parent / "combinator_vectors" / "shapes.json"
    target.write_text(json.dumps(expressions, indent=1) + "\n")
    print(f"{len(leaves)} leaf cases, {len(expressions)} expression cases")


if __name__ == "__main__":
    main()
