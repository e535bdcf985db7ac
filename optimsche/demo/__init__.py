"""The ``optimsche demo``: a tiny encoder-decoder Transformer learns to reverse sequences with
the two-optimizer Noam configuration of the SpeeChain documentation.

Entry point: :func:`run_demo` (the ``demo`` subcommand of the ``optimsche`` command). The
parts, one idea per module: the synthetic task (:mod:`~optimsche.demo.task`), the model
(:mod:`~optimsche.demo.model`), the configuration (:mod:`~optimsche.demo.config`, embedded
default ``default_config.yaml``), the training run with its checkpoint and resume check
(:mod:`~optimsche.demo.training`), the held-out scores (:mod:`~optimsche.demo.evaluation`),
the progress bar, the summary and the curves PNG.
"""

from optimsche.demo.run import run_demo

__all__ = ["run_demo"]
