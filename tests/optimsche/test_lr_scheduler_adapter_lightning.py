"""as_lr_scheduler inside a real PyTorch Lightning Trainer (CPU): the lr of every update,
with and without gradient accumulation, across a checkpoint resume, and the recipe of
docs/integrations.md (``trainer.estimated_stepping_batches``) with ``max_epochs``. Skipped,
with the reason, where pytorch-lightning is not installed."""

from __future__ import annotations

import functools
import logging
import re
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

import optimsche
import schedules
from optimsche.lr_scheduler_adapter import as_lr_scheduler

pl = pytest.importorskip(
    "pytorch_lightning", reason="pytorch-lightning is not installed (pip install -e '.[dev]')"
)

SCHEDULE = functools.partial(schedules.warmup_cosine, peak=0.05, warmup=3, steps=10)


class TinyRegression(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.lrs: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.lrs.append(optimizer.param_groups[0]["lr"])  # the lr this update uses

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.SGD(self.parameters(), lr=1.0)
        scheduler = as_lr_scheduler(optimizer, SCHEDULE)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }


def _data() -> torch.utils.data.DataLoader[Any]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=generator)
    dataset = torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))
    return torch.utils.data.DataLoader(dataset, batch_size=4)


def _trainer(max_steps: int, accumulate: int = 1, **kwargs: Any) -> Any:
    return pl.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accumulate_grad_batches=accumulate,
        **kwargs,
    )


@pytest.fixture(autouse=True)
def _quiet() -> Any:
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        warnings.filterwarnings("ignore", message=".*dataloader is not resumable.*")
        yield


@pytest.mark.parametrize("accumulate", [1, 2])
def test_kth_update_in_lightning_uses_schedule_of_k(accumulate: int) -> None:
    model = TinyRegression()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*lr_scheduler.step.*")
        _trainer(max_steps=7, accumulate=accumulate).fit(model, _data())
    assert model.lrs == pytest.approx([SCHEDULE(k) for k in range(1, 8)], rel=1e-12)


def test_lightning_checkpoint_resume_continues_the_schedule(tmp_path: Path) -> None:
    first = TinyRegression()
    trainer = _trainer(max_steps=4)
    trainer.fit(first, _data())
    checkpoint = tmp_path / "half.ckpt"
    trainer.save_checkpoint(checkpoint)
    second = TinyRegression()
    _trainer(max_steps=9).fit(second, _data(), ckpt_path=checkpoint)
    assert first.lrs + second.lrs == pytest.approx([SCHEDULE(k) for k in range(1, 10)], rel=1e-12)


RECIPE_PAGE = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def _readme_configure_optimizers() -> Any:
    """The Lightning ``configure_optimizers`` of docs/integrations.md, as written there."""
    found = re.search(
        r"```python\n# needs: pytorch_lightning\n.*?\n(    def configure_optimizers\(self\):\n.*?)"
        r"\n\n",
        RECIPE_PAGE.read_text(encoding="utf-8"),
        flags=re.S,
    )
    assert found, "docs/integrations.md has no Lightning recipe"
    namespace: dict[str, Any] = {
        "functools": functools,
        "torch": torch,
        "schedules": schedules,
        "optimsche": optimsche,
    }
    exec(textwrap.dedent(found.group(1)), namespace)
    return namespace["configure_optimizers"]


class ReadmeRecipe(TinyRegression):
    """TinyRegression with the README's configure_optimizers."""

    configure_optimizers = _readme_configure_optimizers()


@pytest.mark.parametrize("accumulate", [1, 2])
def test_the_readme_recipe_works_with_max_epochs(accumulate: int) -> None:
    """max_epochs (the usual case) leaves trainer.max_steps at -1; the README's schedule
    takes its length from trainer.estimated_stepping_batches: 16 batches x 2 epochs /
    accumulate optimizer steps, warming up over a twentieth of them."""
    model = ReadmeRecipe()
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accumulate_grad_batches=accumulate,
    )
    assert trainer.max_steps == -1
    trainer.fit(model, _data())
    total = 32 // accumulate
    warm = max(1, total // 20)
    expected = [
        schedules.warmup_cosine(k, peak=3e-4, warmup=warm, steps=total) for k in range(1, total + 1)
    ]
    assert model.lrs == pytest.approx(expected, rel=1e-12)
