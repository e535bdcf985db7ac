"""The shell as one phase machine (DESIGN "The shell as one phase machine").

``OptimScheduler`` is a façade over records and a machine, arrows one way:

* :mod:`~optimsche.machine.settings`: the frozen settings of a shell, built once from the
  constructor's arguments; they own the window arithmetic;
* :mod:`~optimsche.machine.values`: the values program: the clock, the lr and hyperparameter
  sources, the per-group rules, ``ft_factor``; pure: time in, checked values out;
* :mod:`~optimsche.machine.state`: the one mutable record of a shell (counters, open window,
  plateau state) that the checkpoint reads and writes;
* :mod:`~optimsche.machine.shell_machine`: the phases of one shell (plan, backward, update);
* :mod:`~optimsche.machine.orchestrator`: the one place that orders a micro-step's phases:
  ``run_micro_step`` for several shells (``OptimSchedulerGroup.step``) and
  ``run_one_micro_step``, the same order for one (``OptimScheduler.step``'s hot path).
"""
