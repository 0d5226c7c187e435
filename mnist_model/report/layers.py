"""A layer table (output shape and parameter count of every leaf module)."""

from __future__ import annotations

import torch
from torch import nn

from mnist_model.model import IMAGE_SHAPE, count_parameters


def layer_rows(model: nn.Module) -> list[tuple[str, str, tuple[int, ...], int]]:
    """(name, type, output shape for one image, parameters) for each leaf module in order,
    each once (an MnistNet's eval forward runs its layers once per test-time view)."""
    rows: list[tuple[str, str, tuple[int, ...], int]] = []
    hooks = []
    for name, module in model.named_modules():
        if next(module.children(), None) is not None:
            continue

        def hook(mod: nn.Module, _inputs: object, output: torch.Tensor, name: str = name) -> None:
            if any(row[0] == name for row in rows):
                return
            params = sum(p.numel() for p in mod.parameters(recurse=False))
            rows.append((name, type(mod).__name__, tuple(output.shape), params))

        hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *IMAGE_SHAPE))
    finally:
        for handle in hooks:
            handle.remove()
        model.train(was_training)
    return rows


def summary_text(model: nn.Module) -> str:
    rows = layer_rows(model)
    lines = [f"{'layer':<22}{'type':<18}{'output shape':<20}{'params':>8}", "-" * 68]
    for name, kind, shape, params in rows:
        lines.append(f"{name:<22}{kind:<18}{str(shape):<20}{params:>8,}")
    total = count_parameters(model)
    lines += ["-" * 68, f"{'total trainable parameters':<60}{total:>8,}"]
    return "\n".join(lines)
