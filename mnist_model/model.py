"""The network: a small all-convolutional MNIST classifier (< 8,000 parameters).

Pure: no I/O, no printing, no global state. The layout is chosen for CPU speed as
well as accuracy: one 5x5 convolution at full resolution (with a single input channel
it is nearly free, and it sees a stroke's width before the first pooling), then most
of the parameters at 14x14 and 7x7, where a convolution costs 4x and 16x less than at
28x28. A block that halves the resolution max-pools *before* its BatchNorm and ReLU,
so those run on 4x fewer values: at 28x28 they were a third of a CPU training step.
A 1x1 convolution maps the last features to class scores and global average pooling
turns them into logits, so there is no large fully connected layer. In eval mode the
model averages the logits of test-time views, the picture and copies shifted by one pixel
(``ModelConfig.test_time_views``, ``average_views``): 4.8 fewer test errors a model for
five forward passes a prediction (docs/recipe.md, issue 40).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from mnist_model.config import ModelConfig

IMAGE_SHAPE = (1, 28, 28)
"""(channels, height, width) of one input image."""
LOW_RES_SIZE = 20
"""In training mode the network also takes 20x20 images (``TrainConfig.low_res_fraction``):
it is fully convolutional with a global average pool, and 20 -> 10 -> 5 keeps both
pools exact. Evaluation and prediction (eval mode) take 28x28 only."""

MNIST_MEAN = 0.1307
"""Mean of the training pixels scaled to [0, 1] (the customary MNIST constant)."""
MNIST_STD = 0.3081
"""Standard deviation of the training pixels scaled to [0, 1]."""


BACKGROUND = (0.0 - MNIST_MEAN) / MNIST_STD
"""A black pixel, normalised: what fills the border a shifted view uncovers."""
VIEWS = {
    1: ((0, 0),),
    5: ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)),
    9: tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)),
}
"""``ModelConfig.test_time_views`` -> the (dy, dx) pixel shifts of its views."""


def average_views(
    net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, views: tuple
) -> torch.Tensor:
    """The mean of ``net``'s logits over ``x`` (N, C, H, W) shifted by each (dy, dx) of
    ``views`` (at most one pixel), the uncovered border filled with ``BACKGROUND``."""
    if len(views) == 1 and views[0] == (0, 0):
        return net(x)
    height, width = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1), value=BACKGROUND)
    total = None
    for dy, dx in views:
        logits = net(padded[:, :, 1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width])
        total = logits if total is None else total + logits
    return total / len(views)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 28, 28)`` or ``(N, 1, 28, 28)`` -> float32 ``(N, 1, 28, 28)``.

    Computes ``(x / 255 - MNIST_MEAN) / MNIST_STD``. Non-uint8 input is refused because a
    float tensor here almost always means it was already normalised once.
    """
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        kind = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"normalize expects a uint8 tensor, got {kind}")
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(
            f"normalize expects (N, 28, 28) or (N, 1, 28, 28), got {tuple(images.shape)}"
        )
    return (images.to(torch.float32) / 255.0 - MNIST_MEAN) / MNIST_STD


class ConvBlock(nn.Sequential):
    """Convolution (no bias: BatchNorm supplies it) -> [2x2 max-pool] -> BatchNorm -> ReLU.

    Same padding. With ``pool`` the block halves the resolution between the convolution
    and the BatchNorm: max-pooling commutes with ReLU and with BatchNorm's per-channel
    affine map wherever its scale is positive, so the order costs almost nothing in
    accuracy and makes normalisation and activation 4x cheaper.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 3, *, pool: bool = False
    ) -> None:
        conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False
        )
        pooling = [nn.MaxPool2d(2)] if pool else []
        super().__init__(conv, *pooling, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class MnistNet(nn.Module):
    """Logits of shape (N, num_classes) for normalised images of shape (N, 1, 28, 28)."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ModelConfig()
        self.stem = ConvBlock(1, config.stem_channels, config.stem_kernel, pool=True)
        self.stage1 = _stage(config.stem_channels, config.stage1_channels, pool_last=True)
        self.stage2 = _stage(config.stage1_channels[-1], config.stage2_channels)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Conv2d(config.stage2_channels[-1], config.num_classes, kernel_size=1)
        self.gap = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One view in training; in eval mode the mean over ``config.test_time_views``."""
        check_input(x, low_res=self.training)
        if self.training:
            return self.one_view(x)
        return average_views(self.one_view, x, VIEWS[self.config.test_time_views])

    def one_view(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of ``x`` itself, unchecked."""
        x = self.stem(x)  # conv at 28x28, pooled: (N, C0, 14, 14) (20x20 in: 10x10)
        x = self.stage1(x)  # convs at 14x14, the last one pooled: (N, C1, 7, 7) (5x5)
        x = self.stage2(x)  # (N, C2, 7, 7)
        x = self.dropout(x)
        x = self.classifier(x)  # (N, 10, 7, 7)
        return self.gap(x).flatten(1)  # (N, 10)


def _stage(in_channels: int, widths: tuple[int, ...], *, pool_last: bool = False) -> nn.Sequential:
    blocks = []
    for i, width in enumerate(widths):
        blocks.append(ConvBlock(in_channels, width, pool=pool_last and i == len(widths) - 1))
        in_channels = width
    return nn.Sequential(*blocks)


def check_input(x: torch.Tensor, *, low_res: bool = False, finite: bool = True) -> None:
    """Raise ValueError naming the expected and actual shape/dtype of a bad input batch.
    ``low_res`` also accepts (N, 1, 20, 20), the training-only size (``LOW_RES_SIZE``);
    ``finite`` also refuses NaN and infinite values (a pass over the batch)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"expected a torch.Tensor of shape (N, 1, 28, 28), got {type(x).__name__}")
    low = (IMAGE_SHAPE[0], LOW_RES_SIZE, LOW_RES_SIZE)
    if x.dim() != 4 or not (
        tuple(x.shape[1:]) == IMAGE_SHAPE or (low_res and tuple(x.shape[1:]) == low)
    ):
        also = f" (or (N, 1, {LOW_RES_SIZE}, {LOW_RES_SIZE}) in training)" if low_res else ""
        raise ValueError(f"expected input of shape (N, 1, 28, 28){also}, got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError("expected a non-empty batch of shape (N, 1, 28, 28), got N=0")
    if not x.is_floating_point():
        raise ValueError(
            f"expected a floating-point input (normalised images), got dtype {x.dtype}; "
            "use mnist_model.model.normalize on uint8 images"
        )
    # One summing pass first: a NaN or an infinity makes the sum non-finite, so a finite
    # sum proves the batch clean. isfinite(x).all() takes four passes, 1-3 % of a training
    # step, so it runs only on a non-finite sum (which large finite values may reach).
    if finite and not torch.isfinite(x.sum()) and not bool(torch.isfinite(x).all()):
        raise ValueError("input contains NaN or infinite values")


def device_of(model: nn.Module) -> torch.device:
    """Where ``model``'s first parameter (or buffer) lives; the CPU for a model with none
    (an ONNX model behind ``formats.Foreign``)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
