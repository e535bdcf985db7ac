"""Every combinator, nested in one expression, compiles with ``torch.compile(fullgraph=True)``
(no graph breaks: no Python branching on tensor values) and gives the eager values."""

from __future__ import annotations

import functools

import torch

from schedules import accumulate, clamp, cosine, join, linear, scale, stretch, warmup

EXPRESSION = clamp(
    scale(
        stretch(
            accumulate(
                join(
                    [
                        warmup(functools.partial(cosine, peak=1.0, steps=100, final=0.1), 10),
                        functools.partial(linear, start=0.1, end=0.0, steps=50),
                    ],
                    [110],
                ),
                accum_grad=4,
            ),
            ratio=0.5,
        ),
        factor=2.0,
    ),
    max=1.5,
)


def test_nested_combinators_compile_without_graph_breaks() -> None:
    compiled = torch.compile(EXPRESSION, fullgraph=True)
    steps = torch.arange(0, 1200, dtype=torch.int64)
    torch.testing.assert_close(compiled(steps), EXPRESSION(steps), rtol=1e-12, atol=1e-15)
    assert EXPRESSION(steps).tolist()[:3] == [EXPRESSION(s) for s in range(3)]
