"""An lr range test on the shell (:func:`lr_range_test`): sweep the lr from a minimum to a
maximum over N updates, stop when the loss diverges, put the model, the optimizer and the
shell back exactly, and suggest the lr where the smoothed loss falls fastest."""

from optimsche.lr_range.range_test import lr_range_test
from optimsche.lr_range.result import LrRangeResult

__all__ = ["LrRangeResult", "lr_range_test"]
