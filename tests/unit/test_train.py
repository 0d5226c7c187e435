"""train() on a tiny synthetic set: the contract of its result, hooks, state and failures.

Nothing here learns anything (the images are noise); real learning is an integration test.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mnist_model.config import Arithmetic, ModelConfig, TrainConfig
from mnist_model.errors import TrainingError
from mnist_model.evaluate import evaluate
from mnist_model.model import MnistNet
from mnist_model.train import Hooks, check_state, train

TINY = TrainConfig(epochs=2, batch_size=8)


class Recorder(Hooks):
    """Keeps what train() reported, and the training state after each epoch."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.epochs, self.steps, self.states, self.stop_after = [], [], {}, stop_after

    def step_done(self, epoch, step, steps, loss_sum, correct, seen) -> None:
        self.steps.append((epoch, step, steps, seen))

    def epoch_done(self, epoch, record, result, state) -> None:
        self.epochs.append((epoch, len(result.history)))
        self.states[epoch] = state()
        if epoch == self.stop_after:
            raise _Stop


class _Stop(Exception):
    pass


def test_result_has_one_record_per_epoch_and_a_final_evaluation(tiny_dataset) -> None:
    x, y = tiny_dataset
    run = train(TINY, x, y, x[:10], y[:10], threads=1)
    assert [r["epoch"] for r in run.history] == [1, 2]
    for record in run.history:
        assert {"train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr"} <= set(record)
        assert 0.0 <= record["train_accuracy"] <= 1.0
    assert run.final.total == 10
    assert run.history[-1]["test_accuracy"] == run.final.accuracy


def test_hooks_hear_every_step_and_every_epoch_with_the_growing_result(tiny_dataset) -> None:
    x, y = tiny_dataset
    hooks = Recorder()
    train(TINY, x, y, x[:4], y[:4], hooks=hooks)
    assert hooks.epochs == [(1, 1), (2, 2)]
    steps = -(-len(x) // TINY.batch_size)
    assert [(e, s) for e, s, _, _ in hooks.steps] == [(e, s) for e in (1, 2) for s in range(steps)]
    assert hooks.steps[-1][3] == len(x) and {n for _, _, n, _ in hooks.steps} == {steps}
    assert hooks.states[2]["epoch"] == 2 and hooks.states[2]["train_config"] == dataclasses.asdict(
        TINY
    )


def test_model_config_is_used(tiny_dataset) -> None:
    x, y = tiny_dataset
    config = ModelConfig(stem_channels=4, stage1_channels=(6,), stage2_channels=(6,))
    run = train(TINY, x, y, x[:4], y[:4], model_config=config)
    assert run.model.config == config


def test_inputs_are_not_modified(tiny_dataset) -> None:
    x, y = tiny_dataset
    x_before, y_before = x.clone(), y.clone()
    train(TINY, x, y, x[:4], y[:4])
    assert torch.equal(x, x_before) and torch.equal(y, y_before)


def test_the_first_epochs_train_at_low_resolution(tiny_dataset, monkeypatch) -> None:
    import mnist_model.train as training

    sizes, warp = [], training.random_affine

    def recording_warp(*args, **kwargs):
        out = warp(*args, **kwargs)
        sizes.append(tuple(out.shape[-2:]))
        return out

    monkeypatch.setattr(training, "random_affine", recording_warp)
    x, y = tiny_dataset
    config = dataclasses.replace(TINY, epochs=5, low_res_fraction=0.4)  # 2 of 5 epochs
    run = train(config, x, y, x[:4], y[:4])
    steps = -(-len(x) // config.batch_size)
    assert sizes == [(20, 20)] * (2 * steps) + [(28, 28)] * (3 * steps)
    assert run.final.total == 4  # and evaluation ran at full size after each epoch


def test_diverging_training_stops_with_a_training_error(tiny_dataset) -> None:
    x, y = tiny_dataset
    with pytest.raises(TrainingError, match="non-finite loss.*learning rate"):
        train(TrainConfig(epochs=2, batch_size=8, lr=1e10), x, y, x[:4], y[:4])


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_precision_sets_the_training_forward_precision_only(
    tiny_dataset, precision, monkeypatch
) -> None:
    x, y = tiny_dataset
    training_dtypes = set()
    forward = MnistNet.forward

    def spy(self, inputs):
        logits = forward(self, inputs)
        if self.training:
            training_dtypes.add(logits.dtype)
        return logits

    monkeypatch.setattr(MnistNet, "forward", spy)
    run = train(TINY, x, y, x[:4], y[:4], arithmetic=Arithmetic(precision, "contiguous"))
    assert training_dtypes == {torch.bfloat16 if precision == "bf16" else torch.float32}
    assert run.arithmetic.precision == precision
    weights = [t for t in run.model.state_dict().values() if t.is_floating_point()]
    assert all(t.dtype == torch.float32 for t in weights)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("layout", ["channels_last", "contiguous"])
def test_each_arithmetic_is_reproducible(tiny_dataset, precision, layout) -> None:
    x, y = tiny_dataset
    arithmetic = Arithmetic(precision, layout)
    first, second = (
        train(TINY, x, y, x[:4], y[:4], arithmetic=arithmetic).model.state_dict() for _ in range(2)
    )
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_train_leaves_global_state_as_found(tiny_dataset) -> None:
    # The thread count and the global RNG are the caller's: train() seeds a fork of the
    # RNG and sets its own thread count only while it runs.
    images, labels = tiny_dataset
    torch.manual_seed(1234)
    before_rng, threads = torch.get_rng_state(), torch.get_num_threads()
    config = TrainConfig(epochs=1, batch_size=16)
    train(config, images, labels, images[:8], labels[:8], threads=threads + 1)
    assert torch.equal(torch.get_rng_state(), before_rng)
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_a_resumed_run_matches_an_uninterrupted_one(tiny_dataset, ema_decay) -> None:
    x, y = tiny_dataset
    config = dataclasses.replace(TINY, ema_decay=ema_decay)
    whole = train(config, x, y, x[:4], y[:4])
    hooks = Recorder(stop_after=1)
    with pytest.raises(_Stop):
        train(config, x, y, x[:4], y[:4], hooks=hooks)
    resumed = train(config, x, y, x[:4], y[:4], state=hooks.states[1])
    pairs = zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True)
    for a, b in pairs:
        assert torch.equal(a, b)
    for key in ("train_loss", "test_loss", "lr"):
        assert [r[key] for r in resumed.history] == [r[key] for r in whole.history]


def test_a_state_of_another_recipe_is_refused_and_the_machine_may_change(tiny_dataset) -> None:
    x, y = tiny_dataset
    hooks = Recorder(stop_after=1)
    with pytest.raises(_Stop):
        train(TINY, x, y, x[:4], y[:4], hooks=hooks)
    state = hooks.states[1]
    check_state(state, TINY, ModelConfig())  # threads, device or eval batch may differ
    with pytest.raises(TrainingError, match="another recipe"):
        check_state(state, dataclasses.replace(TINY, lr=0.5), ModelConfig())
    with pytest.raises(TrainingError, match="another recipe"):
        train(dataclasses.replace(TINY, lr=0.5), x, y, x[:4], y[:4], state=state)
    with pytest.raises(TrainingError, match="not a training state"):
        check_state({**state, "schema_version": 1}, TINY, ModelConfig())
    # threads are the machine's: the same recipe resumes with another count
    resumed = train(TINY, x, y, x[:4], y[:4], state=state, threads=1, eval_batch_size=3)
    assert [r["epoch"] for r in resumed.history] == [1, 2]


def test_epochs_look_at_one_view_and_the_last_at_the_models_own(tiny_dataset) -> None:
    x, y = tiny_dataset
    recipe = dataclasses.replace(TINY, epochs=3)
    run = train(recipe, x, y, x[:50], y[:50], threads=1)
    assert [r["test_views"] for r in run.history] == [1, 1, ModelConfig().test_time_views]
    own = evaluate(run.model, x[:50], y[:50])
    assert (run.final.correct, run.final.loss) == (own.correct, own.loss)
    single = evaluate(run.model, x[:50], y[:50], views=1)
    assert single.loss != own.loss  # the last epoch's figures really are the averaged ones
