"""Measured comparisons of optimsche against hand-written loops and other libraries.

``python -m benchmarks`` runs them all and writes ``benchmarks/RESULTS.md``;
``python -m benchmarks --quick`` is a fast check that each one works. One module per
benchmark:

1. :mod:`benchmarks.shell_overhead`: the shell vs the best hand-written loop (and the
   transformers/accelerate-style loop) at three model sizes;
2. :mod:`benchmarks.compile_recompiles`: a ``torch.compile``d step across lr changes;
3. :mod:`benchmarks.schedule_cost`: schedule calls vs the inline formula, ``LambdaLR.step()``
   and optax (its parts: :mod:`benchmarks.schedule_scalar_cost`,
   :mod:`benchmarks.schedule_curve_cost`);
4. :mod:`benchmarks.ddp_allreduce`: DDP all-reduces and time per window with accumulation;
5. :mod:`benchmarks.token_exact`: token-exact accumulation vs the per-micro-batch mean;
6. :mod:`benchmarks.memory`: peak RSS of the shell vs the hand-written loop;
7. :mod:`benchmarks.group_hyperparameters`: every param group's scheduled hyperparameters;
8. :mod:`benchmarks.group_two_optimizers`: a group of Muon + AdamW on one loss of a small
   GPT-like model (:mod:`benchmarks.tiny_gpt`) vs one backward and two steps by hand;
9. :mod:`benchmarks.host_syncs_per_update`: host syncs per update with a fused optimizer:
   the shell, the device-side skip, hand loops and an HF-Trainer-style loop.

Shared pieces: :mod:`benchmarks.timing` (interleaved rounds, medians), :mod:`benchmarks.results`
(rows and sections), :mod:`benchmarks.markdown_report` (the tables),
:mod:`benchmarks.memory_passes` (kernels, passes over memory and fresh buffers, counted),
:mod:`benchmarks.training_loops` (the same work written three ways). optax and jax are
optional (the ``bench`` extra); without them their rows are skipped.
"""
