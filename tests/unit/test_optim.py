"""mnist_model.optim against torch.optim: the same update and schedule, bit for bit, and a
schedule defined for every step count."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from mnist_model.optim import NesterovSGD, one_cycle_lr

schedules = st.fixed_dictionaries(
    {
        "peak": st.sampled_from([0.01, 0.2, 0.3, 1.0]),
        "warmup_fraction": st.sampled_from([0.05, 0.1, 0.25, 0.3, 0.5, 0.9]),
        "initial_divisor": st.sampled_from([1.0, 4.0, 10.0, 25.0]),
        "final_divisor": st.sampled_from([1.0, 100.0, 1e4]),
    }
)


def _torch_one_cycle(total: int, s: dict) -> list[float]:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=s["peak"])
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=s["peak"],
        total_steps=total,
        pct_start=s["warmup_fraction"],
        anneal_strategy="linear",
        div_factor=s["initial_divisor"],
        final_div_factor=s["final_divisor"],
        cycle_momentum=False,
    )
    lrs = []
    for _ in range(total):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return lrs


@given(total=st.integers(1, 400), s=schedules)
def test_one_cycle_matches_torch_wherever_torch_is_defined(total, s) -> None:
    try:
        expected = _torch_one_cycle(total, s)
    except ZeroDivisionError:  # torch's warm-up phase has length 0: ours is still defined
        expected = None
    ours = [one_cycle_lr(step, total, **s) for step in range(total)]
    if expected is not None:
        assert ours == expected  # exact: the same float expressions
    assert all(0 < lr <= s["peak"] * (1 + 1e-12) for lr in ours)  # (end - start) * 1 + start


@given(total=st.integers(1, 2000), s=schedules)
def test_one_cycle_peaks_once_and_ends_at_its_floor(total, s) -> None:
    lrs = [one_cycle_lr(step, total, **s) for step in range(total)]
    top = lrs.index(max(lrs))
    assert all(a <= b for a, b in zip(lrs[:top], lrs[1 : top + 1], strict=True))
    assert all(a >= b for a, b in zip(lrs[top:], lrs[top + 1 :], strict=False))
    floor = s["peak"] / s["initial_divisor"] / s["final_divisor"]
    assert lrs[-1] == pytest.approx(floor)


def test_the_step_count_that_crashed_onecyclelr_is_defined() -> None:
    # 1,000 images, batch 256, one epoch: 4 steps, warm-up 0.25 -> a phase of length 0.
    with pytest.raises(ZeroDivisionError):
        _torch_one_cycle(
            4,
            {"peak": 0.2, "warmup_fraction": 0.25, "initial_divisor": 10.0, "final_divisor": 100.0},
        )
    lrs = [
        one_cycle_lr(
            step, 4, peak=0.2, warmup_fraction=0.25, initial_divisor=10.0, final_divisor=100.0
        )
        for step in range(4)
    ]
    assert lrs[0] == 0.2 and lrs[-1] == pytest.approx(0.2 / 10 / 100)


@pytest.mark.parametrize("bad", [(0, 0), (-1, 5)])
def test_one_cycle_refuses_impossible_steps(bad) -> None:
    step, total = bad
    with pytest.raises(ValueError, match="total_steps >= 1"):
        one_cycle_lr(
            step, total, peak=0.1, warmup_fraction=0.2, initial_divisor=10, final_divisor=100
        )


@given(
    seed=st.integers(0, 2**16),
    momentum=st.sampled_from([0.0, 0.5, 0.9]),
    weight_decay=st.sampled_from([0.0, 5e-4, 0.1]),
    nesterov=st.booleans(),
    steps=st.integers(1, 6),
)
def test_nesterov_sgd_is_torch_sgd_foreach_bit_for_bit(
    seed, momentum, weight_decay, nesterov, steps
) -> None:
    nesterov = nesterov and momentum > 0  # torch refuses nesterov without momentum
    generator = torch.Generator().manual_seed(seed)
    shapes = [(8, 1, 5, 5), (8,), (16, 8, 3, 3), (10, 12, 1, 1)]
    start = [torch.randn(s, generator=generator) for s in shapes]
    grads = [[torch.randn(s, generator=generator) for s in shapes] for _ in range(steps)]
    lrs = [float(lr) for lr in torch.rand(steps, generator=generator)]
    theirs = [torch.nn.Parameter(t.clone()) for t in start]
    ours = [torch.nn.Parameter(t.clone()) for t in start]
    reference = torch.optim.SGD(
        theirs,
        lr=1.0,
        momentum=momentum,
        weight_decay=weight_decay,
        nesterov=nesterov,
        foreach=True,
    )
    optimizer = NesterovSGD(ours, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
    for step_grads, lr in zip(grads, lrs, strict=True):
        for group in reference.param_groups:
            group["lr"] = lr
        for a, b, g in zip(theirs, ours, step_grads, strict=True):
            a.grad, b.grad = g.clone(), g.clone()
        reference.step()
        optimizer.step(lr)
    for a, b in zip(theirs, ours, strict=True):
        assert torch.equal(a, b)


def test_nesterov_sgd_state_round_trip_continues_identically() -> None:
    generator = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(4, 3, generator=generator))]
    grads = [torch.randn(4, 3, generator=generator) for _ in range(4)]
    one = NesterovSGD(params, momentum=0.9, weight_decay=5e-4, nesterov=True)
    for g in grads[:2]:
        params[0].grad = g.clone()
        one.step(0.1)
    copy = [torch.nn.Parameter(params[0].detach().clone())]
    two = NesterovSGD(copy, momentum=0.9, weight_decay=5e-4, nesterov=True)
    two.load_state_dict(one.state_dict())
    for g in grads[2:]:
        params[0].grad, copy[0].grad = g.clone(), g.clone()
        one.step(0.1)
        two.step(0.1)
    assert torch.equal(params[0], copy[0])


def test_nesterov_sgd_leaves_the_gradients_alone() -> None:
    param = torch.nn.Parameter(torch.ones(3))
    optimizer = NesterovSGD([param], momentum=0.9, weight_decay=0.0, nesterov=True)
    param.grad = torch.full((3,), 2.0)
    optimizer.step(0.1)
    optimizer.step(0.1)
    assert torch.equal(param.grad, torch.full((3,), 2.0))


def test_weight_decay_skips_the_exempt_parameters_like_a_torch_param_group() -> None:
    # torch.optim.SGD with a second parameter group at weight decay 0 is the reference.
    from torch.optim import SGD

    torch.manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(3, 3)), torch.nn.Parameter(torch.randn(3))]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    optimizer = NesterovSGD(ours, momentum=0.9, weight_decay=0.1, nesterov=True, no_decay=[ours[1]])
    reference = SGD(
        [{"params": [theirs[0]]}, {"params": [theirs[1]], "weight_decay": 0.0}],
        lr=0.05,
        momentum=0.9,
        weight_decay=0.1,
        nesterov=True,
        foreach=True,
    )
    for step in range(4):
        grads = [torch.randn_like(p, generator=torch.Generator().manual_seed(step)) for p in ours]
        for p, q, g in zip(ours, theirs, grads, strict=True):
            p.grad, q.grad = g.clone(), g.clone()
        optimizer.step(0.05)
        reference.step()
    for p, q in zip(ours, theirs, strict=True):
        assert torch.equal(p, q)


def test_weight_average_warms_up_follows_buffers_and_round_trips() -> None:
    from mnist_model.model import MnistNet
    from mnist_model.optim import WeightAverage

    torch.manual_seed(0)
    live = MnistNet()
    start = {k: v.clone() for k, v in live.state_dict().items()}
    average = WeightAverage(live, decay=0.999)
    with torch.no_grad():
        for tensor in live.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(1.0)  # parameters and BatchNorm statistics alike
    average.update(live)  # first update: decay min(0.999, 1/10), so 90 % of the way
    for name, value in average.model.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, start[name] + 0.9)
    assert not any(p.requires_grad for p in average.model.parameters())
    copy = WeightAverage(MnistNet(), decay=0.999)
    copy.load_state_dict(average.state_dict())
    assert copy.updates == 1
    pairs = zip(copy.model.state_dict().values(), average.model.state_dict().values(), strict=True)
    for a, b in pairs:
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(live, decay=1.0)


def test_weight_average_decay_only_binds_once_the_warm_up_cap_passes_it() -> None:
    """The cap (1 + n) / (10 + n) is below 0.998 for 4,490 updates, so 0.998 and 0.999 make
    the same average until then (the TrainConfig.ema_decay docstring says so), while a
    decay under the cap (0.5, from the 9th update on) does change it."""
    from mnist_model.optim import WeightAverage

    torch.manual_seed(0)
    live = torch.nn.Linear(4, 3)
    averages = {d: WeightAverage(live, decay=d) for d in (0.999, 0.998, 0.5)}
    for _ in range(30):
        with torch.no_grad():
            for p in live.parameters():
                p.add_(torch.randn_like(p))
        for average in averages.values():
            average.update(live)
    states = {d: a.model.state_dict() for d, a in averages.items()}
    for name in states[0.999]:
        assert torch.equal(states[0.999][name], states[0.998][name])
    assert not torch.equal(states[0.999]["weight"], states[0.5]["weight"])


def test_weight_average_follower_makes_the_same_average_as_update() -> None:
    """The training loop's follower looks the tensors up once; it must average exactly as
    update() does, BatchNorm statistics included."""
    from mnist_model.model import MnistNet
    from mnist_model.optim import WeightAverage

    torch.manual_seed(0)
    live = MnistNet()
    by_update, by_follower = WeightAverage(live, 0.99), WeightAverage(live, 0.99)
    follow = by_follower.follower(live)
    for _ in range(12):
        live(torch.randn(4, 1, 28, 28))  # train mode: moves the running statistics
        with torch.no_grad():
            for p in live.parameters():
                p.add_(torch.randn_like(p))
        by_update.update(live)
        follow()
    assert by_update.updates == by_follower.updates == 12
    averaged = by_update.model.state_dict().items(), by_follower.model.state_dict().items()
    for (name, a), (_, b) in zip(*averaged, strict=True):
        assert torch.equal(a, b), name
    assert not torch.equal(by_update.model.stem[0].weight, live.stem[0].weight)
