"""Properties of the forward pass over drawn batch sizes, dtypes, memory layouts and seeds.

Hypothesis draws the *shape of the experiment* (batch size, dtype, layout, a seed for
torch.randn), not raw pixels: the pixels come from torch so examples stay cheap and
shrinking stays meaningful.
"""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from mnist_model.model import MnistNet

NUM_CLASSES = 10

TOLERANCES = {
    torch.float32: {"atol": 1e-4, "rtol": 1e-4},
    torch.float64: {"atol": 1e-10, "rtol": 1e-10},
}
"""How far a sample's logits may move when the batch around it (or its memory layout)
changes: convolution kernels pick different blocking per batch size, so float32 sums
are reordered; that rounding is all that may differ."""

batch_sizes = st.integers(min_value=1, max_value=256)
dtypes = st.sampled_from([torch.float32, torch.float64])
layouts = st.sampled_from([torch.contiguous_format, torch.channels_last])
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@pytest.fixture(scope="module")
def models() -> dict[torch.dtype, MnistNet]:
    """One eval-mode model per dtype, with non-trivial BatchNorm statistics.

    Fresh BatchNorm layers have mean 0 / var 1, which would hide a batch-statistics leak
    in eval mode; a few train-mode passes give them real running statistics."""
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MnistNet()
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(32, 1, 28, 28, generator=generator) * 2 + 0.5)
    model.eval()
    return {torch.float32: model, torch.float64: copy.deepcopy(model).double()}


def make_batch(n: int, dtype: torch.dtype, layout: torch.memory_format, seed: int):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 28, 28, generator=generator, dtype=dtype)
    return x.contiguous(memory_format=layout)


@given(n=batch_sizes, dtype=dtypes, layout=layouts, seed=seeds)
def test_output_shape_dtype_and_finite(models, n, dtype, layout, seed) -> None:
    x = make_batch(n, dtype, layout, seed)
    with torch.no_grad():
        logits = models[dtype](x)
    assert logits.shape == (n, NUM_CLASSES)
    assert logits.dtype == dtype
    assert torch.isfinite(logits).all()
    # (Rows of softmax summing to one was checked here: a property of torch.softmax,
    # which no change to the model could break.)


@given(
    n=st.integers(min_value=2, max_value=256),
    dtype=dtypes,
    layout=layouts,
    seed=seeds,
    data=st.data(),
)
def test_eval_logits_do_not_depend_on_the_rest_of_the_batch(
    models, n, dtype, layout, seed, data
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=n - 1), label="index")
    x = make_batch(n, dtype, layout, seed)
    model = models[dtype]
    with torch.no_grad():
        in_batch = model(x)[index]
        alone = model(x[index : index + 1].contiguous())[0]
    torch.testing.assert_close(in_batch, alone, **TOLERANCES[dtype])


@given(n=batch_sizes, dtype=dtypes, seed=seeds)
def test_memory_layout_does_not_change_the_logits(models, n, dtype, seed) -> None:
    x = make_batch(n, dtype, torch.contiguous_format, seed)
    with torch.no_grad():
        plain = models[dtype](x)
        channels_last = models[dtype](x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(plain, channels_last, **TOLERANCES[dtype])


@given(n=batch_sizes, dtype=dtypes, layout=layouts, seed=seeds)
def test_eval_mode_is_deterministic(models, n, dtype, layout, seed) -> None:
    x = make_batch(n, dtype, layout, seed)
    model = models[dtype]
    with torch.no_grad():
        first, second = model(x), model(x)
    assert torch.equal(first, second)
    assert not model.training


@given(n=st.integers(min_value=1, max_value=32), layout=layouts, seed=seeds)
def test_train_mode_keeps_shapes_and_gradients_reach_every_parameter(n, layout, seed) -> None:
    model = MnistNet().train()
    x = make_batch(n, torch.float32, layout, seed)
    logits = model(x)
    assert logits.shape == (n, NUM_CLASSES)
    assert torch.isfinite(logits).all()
    logits.logsumexp(dim=1).sum().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert missing == []


def test_eval_mode_batch_independence_really_depends_on_eval_mode() -> None:
    # Guards the property above: in train mode BatchNorm uses batch statistics, so the
    # same sample gets different logits in a different batch. If this ever passes
    # trivially, the batch-independence test is not exercising BatchNorm.
    model = MnistNet().train()
    x = make_batch(8, torch.float32, torch.contiguous_format, 7)
    with torch.no_grad():
        in_batch = model(x)[0]
        with_others = model(torch.cat([x[:1], x[1:] * 3 + 1]))[0]
    assert not torch.allclose(in_batch, with_others, **TOLERANCES[torch.float32])
