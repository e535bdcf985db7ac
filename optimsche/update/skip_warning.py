"""SpeeChain's ``logger`` argument of ``step()``: one warning per skipped update.

SpeeChain's runner passes its ``logging.Logger``; anything with a callable ``warning`` (a
``logging.LoggerAdapter``, a test double) works. Each update that was due but not applied
(:attr:`StepReport.skipped`) gives one ``logger.warning`` saying which optimizer, which
micro-step and window, and why.
"""

from __future__ import annotations

from typing import Any, Protocol

from optimsche.step_report import SKIP_AMP_OVERFLOW, SKIP_NONFINITE, StepReport


class WarningLogger(Protocol):
    """What ``step(..., logger=...)`` needs: a ``logging.Logger``-like ``warning``."""

    def warning(self, msg: Any, /, *args: Any) -> Any: ...


_WHY = {
    SKIP_NONFINITE: "a loss of the window or the gradient norm was not finite",
    SKIP_AMP_OVERFLOW: "the fp16 GradScaler found inf/NaN gradients and lowered its scale",
}


def check_logger(logger: object) -> WarningLogger | None:
    """``logger`` if it is ``None`` or has a callable ``warning``; a ``ValueError`` otherwise."""
    if logger is not None and not callable(getattr(logger, "warning", None)):
        raise ValueError(
            f"logger must be a logging.Logger (anything with a .warning method) or None, got "
            f"{type(logger).__name__}: {logger!r}"
        )
    return logger  # type: ignore[return-value]  # checked just above


def warn_if_skipped(
    logger: WarningLogger | None, report: StepReport | None, name: str | None = None
) -> None:
    """One ``logger.warning`` when ``report`` (and the report of the window it flushed, if
    any) is a skipped update; nothing otherwise."""
    if logger is None or report is None:
        return
    warn_if_skipped(logger, report.flushed, name)
    if report.skipped is None:
        return
    who = f"optimizer {name!r}" if name is not None else "the optimizer"
    why = _WHY.get(report.skipped, report.skipped)
    logger.warning(
        f"{who}: update skipped at step {report.step_num} (real step {report.real_step}): "
        f"{report.skipped} ({why}); the parameters were not changed and the window's "
        f"gradients were discarded"
    )
