"""The demo's parts: the reversal task, the model's losses, accuracy, the progress bar, the
curves' smoothing, the DDP forward rule and the configuration checks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional

from optimsche.config.building import build_optim_sches
from optimsche.config.error import ConfigError
from optimsche.demo.checkpoint import load_checkpoint, save_checkpoint
from optimsche.demo.config import check_fits_model, load_demo_config
from optimsche.demo.curves import moving_average
from optimsche.demo.evaluation import accuracy
from optimsche.demo.model import LOSS_NAMES, ReversalTransformer
from optimsche.demo.progress import ProgressBar
from optimsche.demo.task import BOS, EOS, PAD, ReversalTask
from optimsche.demo.training import DemoSettings, build_model, checkpoint_step

REPO = Path(__file__).resolve().parents[3]


def _sequences(batch_src: torch.Tensor) -> list[list[int]]:
    """The symbol sequences of a ``src`` tensor (up to EOS)."""
    out = []
    for row in batch_src.tolist():
        out.append(row[: row.index(EOS)])
    return out


# ---------------------------------------------------------------------------------- task
@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    step=st.integers(1, 10**6),
    rank=st.integers(0, 7),
    batch_size=st.integers(1, 12),
    min_len=st.integers(1, 6),
    extra=st.integers(0, 6),
)
def test_batches_hold_reversed_sequences(
    seed: int, step: int, rank: int, batch_size: int, min_len: int, extra: int
) -> None:
    task = ReversalTask(num_symbols=5, min_len=min_len, max_len=min_len + extra, seed=seed)
    batch = task.train_batch(batch_size, step, rank)
    assert batch.src.shape == (batch_size, task.width)
    for b, symbols in enumerate(_sequences(batch.src)):
        length = len(symbols)
        assert task.min_len <= length <= task.max_len
        assert all(3 <= s < task.vocab_size for s in symbols)
        expected_out = [*symbols[::-1], EOS] + [PAD] * (task.width - length - 1)
        expected_in = [BOS, *symbols[::-1]] + [PAD] * (task.width - length - 1)
        assert batch.tgt_out[b].tolist() == expected_out
        assert batch.tgt_in[b].tolist() == expected_in
        assert batch.src[b, length + 1 :].eq(PAD).all()
    assert batch.num_items == int((batch.tgt_out != PAD).sum())
    lengths = (batch.src != PAD).sum(1) - 1
    head = batch.src[:, : task.max_len]
    assert not task.is_held_out(head.masked_fill(head == EOS, 0), lengths).any()
    again = task.train_batch(batch_size, step, rank)
    assert torch.equal(again.src, batch.src)


def test_shards_and_steps_differ_and_held_out_is_disjoint() -> None:
    task = ReversalTask()
    assert not torch.equal(task.train_batch(16, 1, 0).src, task.train_batch(16, 1, 1).src)
    assert not torch.equal(task.train_batch(16, 1, 0).src, task.train_batch(16, 2, 0).src)
    held = task.held_out_batch(300)
    lengths = (held.src != PAD).sum(1) - 1
    symbols = held.src[:, : task.max_len].masked_fill(held.src[:, : task.max_len] == EOS, 0)
    assert task.is_held_out(symbols, lengths).all()
    train = {tuple(s) for step in range(1, 40) for s in _sequences(task.train_batch(32, step).src)}
    assert not train & {tuple(s) for s in _sequences(held.src)}


def test_held_out_share_is_about_a_tenth() -> None:
    task = ReversalTask()
    symbols, lengths = task._draw(20_000, torch.Generator().manual_seed(3))
    share = float(task.is_held_out(symbols, lengths).float().mean())
    assert 0.08 < share < 0.12


def test_task_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="max_len must be >= min_len"):
        ReversalTask(min_len=5, max_len=4)
    with pytest.raises(ValueError, match="num_symbols"):
        ReversalTask(num_symbols=0)
    with pytest.raises(ValueError, match="batch_size"):
        ReversalTask().train_batch(0, 1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ReversalTask(num_symbols=True), "num_symbols must be an int >= 1, got True"),
        (lambda: ReversalTask(max_len=2.5), "max_len must be an int >= 1, got 2.5"),
        (lambda: DemoSettings(steps=0), "steps must be an int >= 1, got 0"),
        (lambda: DemoSettings(threads=False), "threads must be an int >= 1, got False"),
    ],
)
def test_demo_integer_settings_are_checked_by_the_shared_validator(
    make: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_chance_levels() -> None:
    task = ReversalTask(num_symbols=4, min_len=1, max_len=2)
    assert task.token_chance == 0.25
    assert task.sequence_chance == pytest.approx((1 / 4 + 1 / 16) / 2)


# ---------------------------------------------------------------------------------- model
def test_losses_are_token_sums_and_the_encoder_loss_ignores_the_decoder() -> None:
    settings_ = DemoSettings()
    model = build_model(settings_)
    batch = settings_.task.train_batch(8, 1)
    losses = model(batch)
    assert set(losses) == set(LOSS_NAMES)
    logits = model.decoder(batch.tgt_in, model.encoder(batch.src)[0], batch.src == PAD)
    mean = functional.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD)
    torch.testing.assert_close(losses["decoder_loss"] / batch.num_items, mean)
    torch.testing.assert_close(losses["loss"], losses["encoder_loss"] + losses["decoder_loss"])
    decoder_params = list(model.decoder.parameters())
    encoder_params = list(model.encoder.parameters())
    grads = torch.autograd.grad(
        losses["encoder_loss"], decoder_params, allow_unused=True, retain_graph=True
    )
    assert all(g is None for g in grads)
    # the decoder loss does reach the encoder: isolating it is the OptimSchedulerGroup's job
    grads = torch.autograd.grad(losses["decoder_loss"], encoder_params, allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert [name for name, _ in model.named_children()] == ["encoder", "decoder"]


def test_greedy_decode_pads_after_the_first_eos() -> None:
    settings_ = DemoSettings()
    model = build_model(settings_)
    batch = settings_.task.held_out_batch(16)
    decoded = model.greedy_decode(batch.src)
    assert decoded.shape == batch.tgt_out.shape
    for row in decoded.tolist():
        if EOS in row:
            assert all(t == PAD for t in row[row.index(EOS) + 1 :])


# ---------------------------------------------------------------------------------- scores
def test_accuracy_counts_tokens_and_whole_sequences() -> None:
    target = torch.tensor([[5, 6, EOS, PAD], [7, EOS, PAD, PAD]])
    predicted = torch.tensor([[5, 6, EOS, 9], [8, EOS, 3, 3]])
    score = accuracy(predicted, target)
    assert score.token == pytest.approx(4 / 5)
    assert score.sequence == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match="one shape"):
        accuracy(predicted[:, :3], target)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), max_size=40), st.integers(1, 8))
def test_moving_average_is_the_trailing_mean(values: list[float], window: int) -> None:
    got = moving_average(values, window)
    for i, value in enumerate(got):
        part = values[max(0, i - window + 1) : i + 1]
        assert value == pytest.approx(sum(part) / len(part), abs=1e-9)


# ---------------------------------------------------------------------------------- progress
class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_logs_one_line_per_tenth_when_not_a_terminal() -> None:
    stream, clock = io.StringIO(), _Clock()
    bar = ProgressBar(20, stream=stream, clock=clock)
    for done in range(1, 21):
        clock.now = done * 0.5
        bar.update(done, {"loss": 1.0 / done, "lr": 1e-4})
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11  # at 1/20, then at each tenth
    assert lines[-1].startswith("train [" + "#" * 24 + "] 20/20  10.0s    2.0 it/s")
    assert "loss 0.0500" in lines[-1] and "lr 1.000e-04" in lines[-1]


def test_progress_bar_redraws_in_place_on_a_terminal() -> None:
    stream, clock = _Terminal(), _Clock()
    bar = ProgressBar(4, stream=stream, clock=clock, min_interval=1.0)
    for done in range(1, 5):
        clock.now = done * 0.4
        bar.update(done)
    bar.close()
    text = stream.getvalue()
    assert "\n" not in text[:-1] and text.endswith("\n")
    assert text.count("\r") == 3  # at 0.4 s (first), at 1.6 s (the end), and on close
    with pytest.raises(ValueError, match="total"):
        ProgressBar(0)


# ---------------------------------------------------------------------------------- config
def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "user.yaml"
    path.write_text(text)
    return path


def test_default_config_is_the_speechain_two_optimizer_example() -> None:
    config = load_demo_config()
    encoder, decoder = config.optim_sches.optimizers
    assert (encoder.name, encoder.optim_loss, encoder.updated_modules, encoder.step_per_update) == (
        "encoder_optim",
        "encoder_loss",
        ("encoder",),
        2,
    )
    assert (decoder.name, decoder.optim_loss, decoder.updated_modules, decoder.step_per_update) == (
        "decoder_optim",
        "decoder_loss",
        ("decoder",),
        1,
    )
    assert encoder.type_name == decoder.type_name == "noam.NoamLr"
    assert config.experiment.accum_grad == 2


def test_the_documented_example_fits_the_demo_model() -> None:
    config = load_demo_config(REPO / "docs" / "examples" / "speechain_two_optimizers.yaml")
    check_fits_model(config, ReversalTransformer(16, 13), LOSS_NAMES)
    assert config.experiment.accum_grad == 2  # the demo's default experiment settings


def test_user_experiment_settings_override_the_defaults(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "experiment: {accum_grad: 4}\n"
        "optim_sches: {type: cosine, conf: {optim_type: SGD, optim_conf: {lr: 0.1}, "
        "peak: 0.1, steps: 100}}\n",
    )
    config = load_demo_config(path)
    assert config.experiment.accum_grad == 4
    assert config.experiment.grad_clip == 5.0
    assert config.optim_sches.names == ("main",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "optim_sches: {a: {type: noam.NoamLr, conf: {optim_type: Adam, "
            "updated_modules: [encoder, asr_head], optim_loss: encoder_loss}}}\n",
            r"optim_sches\.a\.conf\.updated_modules: 'asr_head' is not a module of the demo "
            r"model; the demo model has first-level modules 'encoder', 'decoder' and losses "
            r"'encoder_loss', 'decoder_loss', 'loss'",
        ),
        (
            "optim_sches: {a: {type: noam.NoamLr, conf: {optim_type: Adam, "
            "optim_losses: asr_loss}}}\n",
            r"optim_sches\.a\.conf\.optim_loss: the demo model has no loss 'asr_loss'; the "
            r"demo model has first-level modules 'encoder', 'decoder'",
        ),
    ],
)
def test_configs_for_another_model_are_refused(tmp_path: Path, text: str, message: str) -> None:
    config = load_demo_config(_write(tmp_path, text))
    with pytest.raises(ConfigError, match=message):
        check_fits_model(config, ReversalTransformer(16, 13), LOSS_NAMES)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("experiment: {accum_grads: 2}\noptim_sches: {}\n", "unknown key 'accum_grads'; valid"),
        ("experiment: [1]\noptim_sches: {}\n", "experiment: must be a mapping"),
        ("optim_sches: {}\ntrainer: {}\n", "unknown top-level key 'trainer'"),
        (
            "experiment: {accum_grad: 0}\noptim_sches: {type: constant, conf: {optim_type: SGD, "
            "value: 1.0}}\n",
            "accum_grad: must be a positive integer",
        ),
        ("optim_sches:\n  a: {type: noam.NoamLrr, conf: {optim_type: Adam}}\n", "NoamLrr"),
    ],
)
def test_bad_demo_configs_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_demo_config(_write(tmp_path, text))
    assert str(caught.value).startswith(str(tmp_path / "user.yaml"))


def test_a_file_that_is_not_a_demo_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"model": {}}, path)
    config = load_demo_config()
    model = build_model(DemoSettings())
    group = build_optim_sches(config.optim_sches, model, **config.experiment_kwargs())
    with pytest.raises(ValueError, match="not an optimsche demo checkpoint"):
        load_checkpoint(path, model, group)


def test_a_checkpoint_with_a_bad_step_num_changes_nothing(tmp_path: Path) -> None:
    config = load_demo_config()
    source = build_model(DemoSettings(seed=1))
    saved = build_optim_sches(config.optim_sches, source, **config.experiment_kwargs())
    path = tmp_path / "bad.pt"
    save_checkpoint(path, source, saved, 7)
    state = torch.load(path, weights_only=True)
    state["step_num"] = -3
    torch.save(state, path)
    model = build_model(DemoSettings(seed=2))
    group = build_optim_sches(config.optim_sches, model, **config.experiment_kwargs())
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    group_state = repr(group.state_dict())
    with pytest.raises(ValueError, match="step_num must be an int >= 0, got -3"):
        load_checkpoint(path, model, group)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())
    assert repr(group.state_dict()) == group_state


def test_the_demo_checkpoint_is_written_atomically_and_a_truncated_one_named(
    tmp_path: Path,
) -> None:
    config = load_demo_config()
    model = build_model(DemoSettings())
    group = build_optim_sches(config.optim_sches, model, **config.experiment_kwargs())
    path = tmp_path / "checkpoint-half.pt"
    save_checkpoint(path, model, group, 0)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    assert load_checkpoint(path, model, group) == 0
    path.write_bytes(path.read_bytes()[:1000])  # what an in-place save killed early leaves
    with pytest.raises(ValueError, match=f"checkpoint file {path} is truncated"):
        load_checkpoint(path, model, group)
    with pytest.raises(FileNotFoundError, match=f"no checkpoint file {tmp_path / 'gone.pt'}"):
        load_checkpoint(tmp_path / "gone.pt", model, group)


def test_the_checkpoint_falls_half_way_and_before_the_end() -> None:
    assert [checkpoint_step(n) for n in (1, 2, 3, 4, 24, 1000)] == [0, 1, 2, 3, 13, 501]
    assert all(checkpoint_step(n) < n for n in range(1, 200))
