"""The network (mnist_model.model): its structure, parameter budget, forward-pass
properties and input validation."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from mnist_model.bench import targets as bars
from mnist_model.config import ModelConfig
from mnist_model.gate import thresholds
from mnist_model.model import (
    BACKGROUND,
    LOW_RES_SIZE,
    VIEWS,
    MnistNet,
    check_input,
    count_parameters,
)

# --- structure ----------------------------------------------------------------------------
"""Architecture rules: Conv -> BatchNorm everywhere but the 1x1 classifier (a 2x2 max-pool
may sit between them), a global average pooling head, and no single layer hoarding the
parameter budget."""

MAX_LAYER_PARAMETERS = bars.MAX_LAYER_PARAMETERS
"""A big dense layer is exactly what the all-convolutional design is meant to avoid."""


def execution_order(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Leaf modules in the order a forward pass calls them (not declaration order)."""
    order: list[tuple[str, nn.Module]] = []
    handles = [
        module.register_forward_hook(lambda mod, _i, _o, name=name: order.append((name, mod)))
        for name, module in model.named_modules()
        if next(module.children(), None) is None
    ]
    model.eval()
    with torch.no_grad():
        model.one_view(torch.zeros(2, 1, 28, 28))  # one pass: forward averages several views
    for handle in handles:
        handle.remove()
    return order


ALT_CONFIG = ModelConfig(stem_channels=4, stage1_channels=(6,), stage2_channels=(8, 8, 8))
"""A second layout, so the rules are checked as properties of MnistNet, not of one config."""


@pytest.fixture(params=[ModelConfig(), ALT_CONFIG], ids=["default", "alt"])
def model(request) -> MnistNet:
    return MnistNet(request.param)


def after_pool(order: list[tuple[str, nn.Module]], i: int) -> nn.Module:
    """The layer after ``order[i]``, looking past one 2x2 max-pool."""
    following = order[i + 1][1]
    if isinstance(following, nn.MaxPool2d):
        assert following.kernel_size == 2, f"{order[i + 1][0]} is not a 2x2 pool"
        following = order[i + 2][1]
    return following


def test_every_conv_but_the_classifier_is_followed_by_batchnorm(model) -> None:
    order = execution_order(model)
    convs = [i for i, (_, m) in enumerate(order) if isinstance(m, nn.Conv2d)]
    assert convs, "the model has no convolutions"
    *hidden, last = convs
    for i in hidden:
        name, conv = order[i]
        following = after_pool(order, i)
        assert isinstance(following, nn.BatchNorm2d), f"{name} is followed by {following}"
        assert following.num_features == conv.out_channels
    _, classifier = order[last]
    assert classifier is model.classifier
    assert classifier.kernel_size == (1, 1)
    assert classifier.out_channels == model.config.num_classes


def test_pooling_happens_before_normalisation(model) -> None:
    # The CPU-speed rule of the design: BatchNorm and ReLU never run at a resolution that
    # a max-pool right after them would throw away.
    order = execution_order(model)
    pools = [i for i, (_, m) in enumerate(order) if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 2, "the resolution plan is 28 -> 14 -> 7"
    for i in pools:
        assert isinstance(order[i - 1][1], nn.Conv2d), f"{order[i][0]} does not follow a conv"
        assert isinstance(order[i + 1][1], nn.BatchNorm2d), f"{order[i][0]} precedes no BN"


def test_head_is_global_average_pooling_without_dense_layers(model) -> None:
    order = execution_order(model)
    name, head = order[-1]
    assert isinstance(head, nn.AdaptiveAvgPool2d), f"last layer {name} is {head}"
    assert head.output_size in (1, (1, 1))
    assert not any(isinstance(m, nn.Linear) for m in model.modules())


def oversized_modules(model: nn.Module) -> dict[str, int]:
    """Leaf modules (Linear included) that own more than MAX_LAYER_PARAMETERS parameters."""
    sizes = {
        name: sum(p.numel() for p in module.parameters(recurse=False))
        for name, module in model.named_modules()
        if next(module.children(), None) is None
    }
    return {name: n for name, n in sizes.items() if n > MAX_LAYER_PARAMETERS}


def test_no_module_exceeds_the_per_layer_parameter_limit() -> None:
    assert oversized_modules(MnistNet()) == {}


def test_the_limit_catches_a_dense_layer_bolted_on() -> None:
    # Guards the guard: a modest Linear(10, 300) head (3,300 parameters) must be flagged.
    model = nn.Sequential(MnistNet(), nn.Linear(10, 300))
    assert oversized_modules(model) == {"1": 3_300}


def test_every_batchnorm_conv_has_no_redundant_bias(model) -> None:
    # BatchNorm subtracts the mean, so a bias before it is a wasted parameter per channel.
    order = execution_order(model)
    for i, (name, module) in enumerate(order[:-1]):
        if isinstance(module, nn.Conv2d) and isinstance(after_pool(order, i), nn.BatchNorm2d):
            assert module.bias is None, f"{name} has a bias before BatchNorm"


# --- the parameter budget -----------------------------------------------------------------
"""The parameter budget: fewer than 8,000 trainable parameters, and the exact count pinned."""

PARAMETER_BUDGET = thresholds.load()["parameter_budget"]
"""The project's hard limit on trainable parameters (strictly below)."""
EXPECTED_PARAMETERS = bars.PARAMETERS
"""Trainable parameters of the default MnistNet (pinned in mnist_model.bench.targets): a silent
change of architecture shows up here."""


def test_trainable_parameters_are_under_budget() -> None:
    assert count_parameters(MnistNet()) < PARAMETER_BUDGET


def test_exact_parameter_count_is_pinned() -> None:
    assert count_parameters(MnistNet()) == EXPECTED_PARAMETERS


def parameters_by_hand(config: ModelConfig) -> int:
    """The architecture's count from its widths, not from the module tree: each bias-free
    k x k convolution has k*k*in*out weights and its BatchNorm a scale and a shift per
    channel; the 1x1 classifier has a weight per (input, class) and a bias per class."""
    total, width = 0, 1
    layers = [(config.stem_kernel, config.stem_channels)]
    layers += [(3, c) for c in (*config.stage1_channels, *config.stage2_channels)]
    for kernel, out in layers:
        total += kernel * kernel * width * out + 2 * out
        width = out
    return total + width * config.num_classes + config.num_classes


def test_the_default_count_is_the_architectures_arithmetic() -> None:
    assert parameters_by_hand(ModelConfig()) == EXPECTED_PARAMETERS


@given(
    stem=st.integers(1, 12),
    kernel=st.sampled_from([1, 3, 5, 7]),
    stage1=st.lists(st.integers(1, 24), min_size=1, max_size=3).map(tuple),
    stage2=st.lists(st.integers(1, 24), min_size=1, max_size=3).map(tuple),
)
def test_count_parameters_matches_the_arithmetic_for_any_widths(stem, kernel, stage1, stage2):
    config = ModelConfig(stem, kernel, stage1, stage2)
    model = MnistNet(config)
    assert count_parameters(model) == parameters_by_hand(config)
    # BatchNorm's running statistics are buffers, not parameters: they must not count.
    assert count_parameters(model, trainable_only=False) == parameters_by_hand(config)


def test_frozen_parameters_are_excluded_from_the_trainable_count() -> None:
    model = MnistNet()
    total = sum(p.numel() for p in model.parameters())
    frozen = model.classifier.weight
    frozen.requires_grad_(False)
    assert count_parameters(model) == total - frozen.numel()
    assert count_parameters(model, trainable_only=False) == total


# --- properties of the forward pass -------------------------------------------------------
"""Properties of the forward pass over drawn batch sizes, dtypes, memory layouts and seeds.

Hypothesis draws the *shape of the experiment* (batch size, dtype, layout, a seed for
torch.randn), not raw pixels: the pixels come from torch so examples stay cheap and
shrinking stays meaningful."""

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


# --- input validation ---------------------------------------------------------------------
"""Bad input batches are refused with a ValueError that names what was expected and got.

A wrong shape that happened to broadcast, or an integer image that was never normalised,
would otherwise produce confident garbage instead of an error."""

EXPECTED_SHAPE = "(N, 1, 28, 28)"


@pytest.fixture(scope="module")
def eval_model() -> MnistNet:
    return MnistNet().eval()


BAD_SHAPES = {
    "rank 3 (channel dim missing)": (4, 28, 28),
    "rank 2 (flattened)": (4, 784),
    "rank 5": (1, 4, 1, 28, 28),
    "spatial 32x32": (4, 1, 32, 32),
    "spatial 28x27": (4, 1, 28, 27),
    "3 channels": (4, 3, 28, 28),
    "channels last-dim (NHWC)": (4, 28, 28, 1),
}


@pytest.mark.parametrize("shape", BAD_SHAPES.values(), ids=BAD_SHAPES.keys())
def test_wrong_shapes_name_expected_and_actual(eval_model, shape) -> None:
    x = torch.zeros(shape)
    with pytest.raises(ValueError) as info:
        eval_model(x)
    message = str(info.value)
    assert EXPECTED_SHAPE in message
    assert str(tuple(shape)) in message


def test_low_resolution_images_are_taken_in_training_mode_only() -> None:
    # TrainConfig.low_res_fraction feeds 20x20 batches; evaluation and predict never do.
    net = MnistNet()
    x = torch.zeros(3, 1, LOW_RES_SIZE, LOW_RES_SIZE)
    assert net.train()(x).shape == (3, 10)
    with pytest.raises(ValueError, match=re.escape(EXPECTED_SHAPE)):
        net.eval()(x)


@pytest.mark.parametrize("shape", [(2, 1, 24, 24), (2, 1, 20, 28), (2, 1, 32, 32), (2, 3, 20, 20)])
def test_training_mode_takes_no_other_size(shape) -> None:
    with pytest.raises(ValueError, match=re.escape(str(shape))):
        MnistNet().train()(torch.zeros(shape))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.int32, torch.bool])
def test_non_float_dtypes_name_expected_and_actual(eval_model, dtype) -> None:
    x = torch.zeros(2, 1, 28, 28, dtype=dtype)
    with pytest.raises(ValueError, match="floating-point") as info:
        eval_model(x)
    assert str(dtype) in str(info.value)


def test_empty_batch_is_refused(eval_model) -> None:
    with pytest.raises(ValueError, match=re.escape("N=0")):
        eval_model(torch.zeros(0, 1, 28, 28))


def test_non_tensor_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="list"):
        check_input([[0.0] * 28] * 28)


@pytest.mark.parametrize("where", [(0, 0, 0, 0), (1, 0, 27, 13)], ids=["first", "inside"])
def test_nan_input_is_refused(eval_model, where) -> None:
    # A NaN pixel poisons every logit of its sample (and, in train mode, the whole batch's
    # BatchNorm statistics); it must fail loudly, naming the problem.
    x = torch.zeros(2, 1, 28, 28)
    x[where] = float("nan")
    with pytest.raises(ValueError, match=r"(?i)\bnan\b"):
        eval_model(x)


@pytest.mark.parametrize("value", [float("inf"), float("-inf")], ids=["inf", "-inf"])
def test_infinite_input_is_refused(eval_model, value) -> None:
    x = torch.zeros(2, 1, 28, 28)
    x[1, 0, 3, 3] = value
    with pytest.raises(ValueError, match=r"(?i)infinite|finite"):
        eval_model(x)


def test_large_finite_input_whose_sum_overflows_passes(eval_model) -> None:
    # The check sums first; a sum past the float range must not be taken for an infinity.
    x = torch.full((2, 1, 28, 28), 3e38)
    assert not torch.isfinite(x.sum())
    check_input(x)
    check_input(x.half().clamp(max=6e4))  # float16: 1,568 x 6e4 overflows its 65,504


def test_valid_input_passes(eval_model) -> None:
    # The counterpart of every refusal above: the checks must not reject good batches.
    check_input(torch.zeros(3, 1, 28, 28))
    check_input(torch.zeros(1, 1, 28, 28, dtype=torch.float64))
    assert eval_model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def shifted_oracle(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Pixel (i, j) of the view is x[i + dy, j + dx], a black pixel where that is outside:
    written out index by index, apart from model.average_views' pad-and-slice."""
    out = torch.full_like(x, BACKGROUND)
    size = x.shape[-1]
    for i in range(size):
        for j in range(size):
            if 0 <= i + dy < size and 0 <= j + dx < size:
                out[..., i, j] = x[..., i + dy, j + dx]
    return out


@pytest.mark.parametrize("views", [1, 5, 9])
def test_eval_forward_averages_the_shifted_views(views) -> None:
    model = MnistNet(ModelConfig(test_time_views=views)).eval()
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(views))
    with torch.no_grad():
        expected = sum(model.one_view(shifted_oracle(x, dy, dx)) for dy, dx in VIEWS[views])
        got = model(x)
    assert len(set(VIEWS[views])) == views and (0, 0) in VIEWS[views]
    assert all(max(abs(dy), abs(dx)) == 1 for dy, dx in VIEWS[views] if (dy, dx) != (0, 0))
    torch.testing.assert_close(got, expected / views, rtol=0, atol=1e-5)


def test_training_forward_is_one_view() -> None:
    model = MnistNet(ModelConfig(test_time_views=9)).train()
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    torch.manual_seed(0)
    assert torch.equal(model(x), copy.deepcopy(model).one_view(x))


@pytest.mark.parametrize("bad", [0, 2, 3, 4, 10, True, 5.0, "5"])
def test_test_time_views_must_name_a_view_set(bad) -> None:
    with pytest.raises(ValueError, match="test_time_views"):
        ModelConfig(test_time_views=bad)
