"""``OptimSchedulerGroup``: several OptimSchedulers stepped together on several losses.

SpeeChain's ``optim_sches:`` mapping (e.g. an ASR and a TTS optimizer, or a generator and a
discriminator): a read-only mapping name -> OptimScheduler whose ``step(losses)`` runs every
member's micro-step. What it adds to stepping the members one by one:

* **Backward first, updates after.** Every participating member backpropagates its loss before
  any member updates, so an update never changes a parameter that a later backward still needs
  (the in-place-modification error of shared graphs). All backwards but the last keep the graph
  (``retain_graph=True``), so losses that share a forward graph work.
* **One backward per loss.** Members whose loss is the same tensor, scaled alike (same
  ``accum_grad`` or both ``num_items``, same window end), share one backward pass over the
  union of their parameters: the two-optimizer pattern (Muon + AdamW on one loss) costs one
  pass, as a hand-written loop does, each member's gradients bit for bit its own backward's
  (:mod:`optimsche.machine.orchestrator`).
* **Isolation.** A backward reaches only its members' parameters (``inputs=``) unless every
  member takes part in it, all on one model whose trainable parameters they own together; the
  members' parameter sets must be disjoint (overlapping ``updated_modules`` are an error).
* **One DDP rule.** Members on one DDP model share one
  :class:`~optimsche.ddp_sync_rule.DdpSyncRule`: DDP's own all-reduce runs only in micro-steps
  in which every member takes part and the members own every parameter DDP reduces; in the
  others (a member with ``step_per_update > 1`` sitting out, or parameters no member owns) the
  forward runs unsynced and each member whose window ends all-reduces its own gradients.
* **One GradScaler.** With fp16 AMP the members share the first member's scaler (they must all
  use fp16 and the same ``accum_grad``); it is updated once per micro-step in which any member
  updated, after all of them.
* **Partial windows.** :meth:`~OptimSchedulerGroup.flush` flushes every member (then updates
  the shared scaler once); a ``step_num`` that jumps out of members' open windows sets those
  windows aside, runs every backward, applies the set-aside windows (``StepReport.flushed``),
  then the micro-step's own updates (:mod:`optimsche.update.partial_window`).
* **Plateau.** :meth:`~OptimSchedulerGroup.observe` feeds one metric to every member with a
  ``plateau`` rule, or a metric per member by name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from optimsche.machine.orchestrator import run_micro_step
from optimsche.optim_scheduler import OptimScheduler
from optimsche.parallel.ddp_sync_rule import DdpSyncRule
from optimsche.parallel.rank_agreement import group_agree_at_construction, group_agree_before_load
from optimsche.speechain_timer import TimeFunc, check_timer
from optimsche.step_report import StepReport
from optimsche.update.micro_loss import Losses
from optimsche.update.skip_warning import WarningLogger, check_logger, warn_if_skipped
from schedules.reduce_on_plateau import read_metric
from schedules.validation import require_count

ItemsArg = int | Tensor | Mapping[str, int | Tensor] | None


class OptimSchedulerGroup(Mapping[str, OptimScheduler]):
    """A read-only mapping name -> :class:`OptimScheduler`, stepped together (module doc)."""

    def __init__(self, optim_sches: Mapping[str, OptimScheduler]) -> None:
        if not isinstance(optim_sches, Mapping) or not optim_sches:
            raise ValueError(
                f"optim_sches must be a non-empty dict of name -> OptimScheduler, got "
                f"{optim_sches!r}"
            )
        for name, member in optim_sches.items():
            if not isinstance(name, str):
                raise ValueError(f"optim_sches: names must be strings, got {name!r}")
            if not isinstance(member, OptimScheduler):
                raise ValueError(
                    f"optim_sches[{name!r}] must be an OptimScheduler, got {type(member).__name__}"
                )
        self._members: dict[str, OptimScheduler] = dict(optim_sches)
        self._check_disjoint()
        self._scaler = self._shared_scaler()
        by_member = self._shared_sync_rules()
        for name, member in self._members.items():
            member.machine.share(scaler=self._scaler, sync_rule=by_member.get(name))
        self._sync_rules = list({id(rule): rule for rule in by_member.values()}.values())
        self._step_num = max(member.step_num for member in self._members.values())
        self._arm_next()
        # nothing lost (issue 20): the ranks compare every member's settings (rank_agreement)
        group_agree_at_construction(self)

    def _check_disjoint(self) -> None:
        owner: dict[int, str] = {}
        for name, member in self._members.items():
            shared: dict[str, int] = {}
            for p in member.parameters:
                other = owner.setdefault(id(p), name)
                if other != name:
                    shared[other] = shared.get(other, 0) + 1
            for other, count in shared.items():
                raise ValueError(
                    f"OptimSchedulerGroup: {other!r} and {name!r} share {count} parameter(s) "
                    f"(updated_modules {self._members[other].updated_modules!r} and "
                    f"{member.updated_modules!r}); each parameter must belong to one "
                    f"OptimScheduler"
                )

    def _shared_scaler(self) -> torch.amp.GradScaler | None:
        """The first member's GradScaler, which every member will use (module doc)."""
        with_scaler = [name for name, m in self._members.items() if m.scaler is not None]
        if not with_scaler:
            return None
        if len(with_scaler) != len(self._members):
            without = [name for name in self._members if name not in with_scaler]
            raise ValueError(
                f"OptimSchedulerGroup: {with_scaler} use fp16 AMP (a GradScaler) but {without} "
                f"do not; the losses of one fp16 forward need every member to use fp16"
            )
        accum = {name: m.accum_grad for name, m in self._members.items()}
        if len(set(accum.values())) > 1:
            raise ValueError(
                f"OptimSchedulerGroup: members sharing a GradScaler need one accum_grad, got "
                f"{accum} (the scale may change only between windows)"
            )
        return self._members[with_scaler[0]].scaler

    def _shared_sync_rules(self) -> dict[str, DdpSyncRule]:
        """One DDP rule per DDP model, over the members that step it (module doc), by member."""
        by_model: dict[int, tuple[DistributedDataParallel, list[tuple[str, OptimScheduler]]]] = {}
        for name, member in self._members.items():
            model = member.ddp_model
            if model is not None:
                by_model.setdefault(id(model), (model, []))[1].append((name, member))
        rules: dict[str, DdpSyncRule] = {}
        for model, named in by_model.values():
            rule = DdpSyncRule(
                model,
                [(member.accum_grad, member.step_per_update) for _, member in named],
                [name for name, _ in named],
                [p for _, member in named for p in member.trainable_parameters],
            )
            rules.update({name: rule for name, _ in named})
        return rules

    def _arm_next(self) -> None:
        """Arm each DDP model's forward of the next micro-step (:meth:`DdpSyncRule.arm`)."""
        for rule in self._sync_rules:
            rule.arm(self._step_num + 1)

    # ----------------------------------------------------------------- Mapping
    def __getitem__(self, name: str) -> OptimScheduler:
        return self._members[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    # ----------------------------------------------------------------- stepping
    @property
    def step_num(self) -> int:
        """The last micro-step the group ran (0 before the first)."""
        return self._step_num

    def get_lr(self) -> dict[str, float]:
        """Each member's :meth:`OptimScheduler.get_lr`, by name."""
        return {name: member.get_lr() for name, member in self._members.items()}

    def step(
        self,
        losses: Losses,
        step_num: int | None = None,
        epoch_num: float | None = None,
        logger: WarningLogger | None = None,
        *,
        time_func: TimeFunc | None = None,
        num_items: ItemsArg = None,
    ) -> dict[str, StepReport]:
        """One micro-step of every member: all backwards (one per distinct loss tensor and
        scaling), then all due updates (:func:`optimsche.machine.orchestrator.run_micro_step`).

        ``losses`` holds each member's ``optim_loss``. ``step_num``: the 1-based micro-step
        (``None``: the next). ``epoch_num``: the 1-based epoch, given to every member.
        ``logger``: warned once per skipped update. ``time_func`` is entered with the member's
        name as ``optim_name``. ``num_items``: one count for every member, or a dict name ->
        count. Returns name -> :class:`StepReport`, in the group's order.
        """
        check_logger(logger)
        check_timer(time_func, None)
        n = self._step_num + 1 if step_num is None else require_count("step_num", step_num)
        machines = {name: member.machine for name, member in self._members.items()}
        try:
            reports = run_micro_step(
                machines,
                losses,
                n,
                epoch_num=epoch_num,
                items_for=lambda name: self._items_for(name, num_items),
                time_func=time_func,
                logger=logger,
                scaler=self._scaler,
                sync_rules=self._sync_rules,
            )
        except ValueError:
            if all(member.step_num == n for member in self._members.values()):
                self._step_num = n  # refused at a sync: the micro-step ran
                self._arm_next()
            raise
        self._step_num = n
        self._arm_next()
        return reports

    def flush(self, *, logger: WarningLogger | None = None) -> dict[str, StepReport | None]:
        """:meth:`OptimScheduler.flush` of every member: name -> its report, or ``None`` for
        a member with no open window. The shared fp16 scaler is updated once, after all;
        the group's next micro-step is the first after every member's closed window. Under
        DDP every rank must flush alike."""
        check_logger(logger)
        reports = {
            name: member.flush(update_scaler=False) for name, member in self._members.items()
        }
        if self._scaler is not None and any(report is not None for report in reports.values()):
            self._scaler.update()
        self._step_num = max(member.step_num for member in self._members.values())
        self._arm_next()
        for name, report in reports.items():
            warn_if_skipped(logger, report, name)
        return reports

    def observe(self, metric: float | Tensor | Mapping[str, float | Tensor]) -> None:
        """Feed the members' ``plateau`` rules (:meth:`OptimScheduler.observe`): one metric
        for every member that has a rule (at least one must), or a dict name -> metric for
        the members named (each must have one). Every metric and name is checked before any
        member changes."""
        if isinstance(metric, Mapping):
            unknown = [name for name in metric if name not in self._members]
            if unknown:
                raise ValueError(
                    f"observe: unknown member {unknown[0]!r}; the group's members: "
                    f"{', '.join(repr(name) for name in self._members)}"
                )
            names = list(metric)
        else:
            names = [n for n, member in self._members.items() if member.plateau is not None]
            if not names:
                raise ValueError(
                    "observe: no member of the group has a plateau rule; build them with "
                    "plateau=... (or plateau: in the config)"
                )
        without = [name for name in names if self._members[name].plateau is None]
        if without:
            with_rule = [n for n, member in self._members.items() if member.plateau is not None]
            raise ValueError(
                f"observe: member {without[0]!r} has no plateau rule; members with one: {with_rule}"
            )
        if isinstance(metric, Mapping):
            values = {name: read_metric(metric[name]) for name in names}
        else:
            value = read_metric(metric)  # one host read for a Tensor metric
            values = dict.fromkeys(names, value)
        for name, value in values.items():
            self._members[name].observe(value)

    def _items_for(self, name: str, num_items: ItemsArg) -> int | Tensor | None:
        if not isinstance(num_items, Mapping):
            return num_items
        if name not in num_items:
            raise ValueError(
                f"num_items has no entry for {name!r}; keys present: "
                f"{', '.join(repr(k) for k in num_items)}"
            )
        return num_items[name]

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, dict[str, Any]]:
        """Each member's :meth:`OptimScheduler.state_dict`, by name."""
        return {name: member.state_dict() for name, member in self._members.items()}

    def load_state_dict(self, state_dict: Mapping[str, Mapping[str, Any]]) -> None:
        """Load each member's checkpoint; the names must be exactly the group's. Every member's
        checkpoint is checked before any is loaded: a refused one changes no member."""
        # nothing lost (issue 20): all ranks check and compare first (parallel.rank_agreement)
        group_agree_before_load(self, state_dict)
        if not isinstance(state_dict, Mapping):
            raise ValueError(
                f"OptimSchedulerGroup.load_state_dict: expected a dict name -> member "
                f"state_dict, got {type(state_dict).__name__}"
            )
        missing = [name for name in self._members if name not in state_dict]
        unexpected = [name for name in state_dict if name not in self._members]
        if missing or unexpected:
            raise ValueError(
                f"OptimSchedulerGroup.load_state_dict: the checkpoint's names do not match the "
                f"group's: missing {missing}, unexpected {unexpected}"
            )
        checked = {}
        for name, member in self._members.items():
            try:
                checked[name] = member.check_state_dict(state_dict[name])
            except ValueError as error:
                raise ValueError(
                    f"OptimSchedulerGroup.load_state_dict: {name!r}: {error}"
                ) from None
        for name, member in self._members.items():
            member.load_checked_state_dict(checked[name])
        self._step_num = max(member.step_num for member in self._members.values())
        self._arm_next()

    def __repr__(self) -> str:
        inner = ", ".join(f"{name!r}: {member!r}" for name, member in self._members.items())
        return f"OptimSchedulerGroup({{{inner}}})"
