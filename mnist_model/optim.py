"""The recipe's optimiser and learning-rate schedule, without ``torch.optim``.

Two reasons. ``torch.optim.Optimizer`` imports ``torch._dynamo`` the first time a parameter
group is added: about a second of every ``mnist-model train``, as long as the training
loop of a quick run. And ``OneCycleLR`` divides by the length of its warm-up phase, which
is zero for some valid step counts (4 steps at a warm-up fraction of 0.25): the schedule
here is defined for every step count.

``NesterovSGD`` performs exactly the multi-tensor update of ``torch.optim.SGD(foreach=True,
nesterov=True)`` (weight decay added to the gradient, momentum buffer started from the
first gradient), and ``one_cycle_lr`` returns exactly ``OneCycleLR``'s linear-anneal values
wherever that one is defined; tests/unit/test_optim.py checks both bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch


def one_cycle_lr(
    step: int,
    total_steps: int,
    *,
    peak: float,
    warmup_fraction: float,
    initial_divisor: float,
    final_divisor: float,
) -> float:
    """Learning rate of 0-based ``step`` of ``total_steps``: linear from ``peak /
    initial_divisor`` up to ``peak`` at step ``warmup_fraction * total_steps - 1``, then
    linear down to ``peak / initial_divisor / final_divisor`` at the last step. A phase
    shorter than one step is jumped over instead of dividing by its length."""
    if total_steps < 1 or step < 0:
        raise ValueError(f"step {step} of {total_steps}: need total_steps >= 1 and step >= 0")
    initial = peak / initial_divisor
    phases = (
        (float(warmup_fraction * total_steps) - 1, initial, peak),
        (total_steps - 1, peak, initial / final_divisor),
    )
    start_step = 0.0
    for i, (end_step, start_lr, end_lr) in enumerate(phases):
        if step <= end_step or i == len(phases) - 1:
            length = end_step - start_step
            pct = (step - start_step) / length if length > 0 else 1.0
            return (end_lr - start_lr) * pct + start_lr
        start_step = end_step
    raise AssertionError("unreachable")


class NesterovSGD:
    """SGD with (Nesterov) momentum and L2 weight decay, one multi-tensor update per step."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        *,
        momentum: float,
        weight_decay: float,
        nesterov: bool,
        no_decay: Iterable[torch.nn.Parameter] = (),
    ) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.nesterov = nesterov and momentum > 0
        exempt = {id(p) for p in no_decay}
        self.decayed = [i for i, p in enumerate(self.params) if id(p) not in exempt]
        """Indices of the parameters weight decay applies to (all but ``no_decay``)."""
        self.buffers: list[torch.Tensor] | None = None  # created from the first gradients

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, lr: float) -> None:
        params = [p for p in self.params if p.grad is not None]
        if not params:
            return
        if len(params) != len(self.params):
            raise RuntimeError("some parameters got no gradient; every layer must be used")
        grads = [p.grad for p in params]
        if self.weight_decay != 0 and len(self.decayed) == len(params):
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        elif self.weight_decay != 0 and self.decayed:
            decayed = torch._foreach_add(
                [grads[i] for i in self.decayed],
                [params[i] for i in self.decayed],
                alpha=self.weight_decay,
            )
            grads = list(grads)
            for i, grad in zip(self.decayed, decayed, strict=True):
                grads[i] = grad
        if self.momentum != 0:
            if self.buffers is None:
                self.buffers = [g.detach().clone() for g in grads]
            else:
                torch._foreach_mul_(self.buffers, self.momentum)
                torch._foreach_add_(self.buffers, grads, alpha=1.0)
            if self.nesterov:
                # do not write into the .grad tensors (decay made new ones where it applied)
                grads = [
                    g.clone() if g is p.grad else g for g, p in zip(grads, params, strict=True)
                ]
                torch._foreach_add_(grads, self.buffers, alpha=self.momentum)
            else:
                grads = self.buffers
        torch._foreach_add_(params, grads, alpha=-lr)

    def state_dict(self) -> dict:
        return {"momentum_buffers": self.buffers}

    def load_state_dict(self, state: dict) -> None:
        buffers = state["momentum_buffers"]
        if buffers is not None and [b.shape for b in buffers] != [p.shape for p in self.params]:
            raise ValueError("momentum buffers do not match the parameters")
        self.buffers = None if buffers is None else [b.clone() for b in buffers]


class WeightAverage:
    """An exponential moving average of a model's weights and BatchNorm statistics.

    ``model`` is a copy of the trained network whose floating-point state (parameters and
    running statistics) follows the live one: after each optimiser step, every value moves
    ``1 - d`` of the way to the live value, with ``d = min(decay, (1 + n) / (10 + n))`` at
    the ``n``-th update, so the early average is not dominated by the initial weights.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        import copy

        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model)
        self.model.requires_grad_(False)

    @staticmethod
    def _floats(model: torch.nn.Module) -> list[torch.Tensor]:
        # Looked up at each update (not cached): Module.to() may replace the buffers.
        # Parameters and buffers directly: state_dict() builds a dict of detached views.
        buffers = [b for b in model.buffers() if b.is_floating_point()]
        return [*model.parameters(), *buffers]

    def update(self, model: torch.nn.Module) -> None:
        """One step of the average towards ``model``."""
        self._step(self._floats(self.model), self._floats(model))

    def follower(self, model: torch.nn.Module) -> Callable[[], None]:
        """``update(model)`` as a function of no arguments, with both models' tensors
        looked up once: finding them took most of an update's time. Valid while neither
        model is moved or converted (``Module.to`` may replace buffers), as in a training
        loop."""
        ours, live = self._floats(self.model), self._floats(model)
        return lambda: self._step(ours, live)

    @torch.no_grad()
    def _step(self, ours: list[torch.Tensor], live: list[torch.Tensor]) -> None:
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(ours, live, 1.0 - decay)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])
