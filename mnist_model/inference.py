"""A faster inference path: BatchNorm folded into the convolutions, dropout removed.

In eval mode BatchNorm is an affine map per channel, so it can be folded into the
preceding convolution's weights and bias; the folded network computes the same
function (up to float rounding) with a third fewer layers to run. Where a max-pool
sits between the convolution and its BatchNorm, the fold goes through the pool: see
``_fold_block``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from mnist_model.model import VIEWS, ConvBlock, MnistNet, average_views, check_input

LOGIT_ATOL = 1e-4
"""How far the folded inference form's logits may be from the eager model's."""


class ChannelSign(nn.Module):
    """Multiply each channel by +1 or -1 (what is left of a BatchNorm with negative scale)."""

    def __init__(self, sign: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("sign", sign.reshape(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sign


def _fold_block(block: ConvBlock) -> list[nn.Module]:
    """Conv -> [max-pool] -> BN -> ReLU as Conv' -> [max-pool [-> ChannelSign]] -> ReLU.

    BN(pool(z)) = a * max(z) + b per channel. For a >= 0 that is max(a * z + b), the
    plain fold. For a < 0 the maximum of a * z is a minimum, so the folded convolution
    computes s * (a * z + b) = |a| * z + s * b with s = sign(a), whose maximum is
    |a| * max(z) + s * b, and multiplying by s afterwards gives a * max(z) + b exactly.
    """
    conv, *pool, bn, relu = block
    fused = fuse_conv_bn_eval(conv, bn)
    if not pool:
        return [fused, relu]
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    sign = torch.where(scale < 0, -1.0, 1.0).to(fused.weight.dtype)
    if bool((sign > 0).all()):
        return [fused, *pool, relu]
    with torch.no_grad():
        fused.weight.mul_(sign.reshape(-1, 1, 1, 1))
        fused.bias.mul_(sign)
    return [fused, *pool, ChannelSign(sign), relu]


class FoldedNet(nn.Module):
    """MnistNet with each block's BatchNorm folded into its convolution; eval-only. It
    averages the logits over the model's test-time views, or over ``views`` views."""

    def __init__(self, model: MnistNet, views: int | None = None) -> None:
        super().__init__()
        self.views = VIEWS[model.config.test_time_views if views is None else views]
        model = copy.deepcopy(model).eval()
        layers: list[nn.Module] = []
        for block in (model.stem, *model.stage1, *model.stage2):
            layers += _fold_block(block)
        layers += [model.classifier, nn.AdaptiveAvgPool2d(1), nn.Flatten(1)]
        self.layers = nn.Sequential(*layers).eval()
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, finite=False)  # the cheap checks: no scan for NaN on the fast path
        return average_views(self.layers, x, self.views)


def fold_for_inference(
    model: MnistNet, channels_last: bool = False, views: int | None = None
) -> FoldedNet:
    """``model`` folded; ``views`` overrides its ``config.test_time_views``."""
    folded = FoldedNet(model, views)
    if channels_last:
        folded = folded.to(memory_format=torch.channels_last)
    return folded


def inference_form(model: nn.Module, views: int | None = None) -> nn.Module:
    """What to run for predictions: an MnistNet's folded channels_last form (the fastest
    path `mnist-model bench` measured, with the eager model's predictions), any other
    module as it is. Folding copies, so ``model`` itself is left alone. ``views``
    overrides an MnistNet's test-time views (training's per-epoch look uses one)."""
    if isinstance(model, MnistNet):
        return fold_for_inference(model, channels_last=True, views=views)
    return model
