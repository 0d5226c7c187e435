"""Test-time augmentation folded into the forward (issue 40's candidates 4 and 5).

MnistNet's layers (the same state_dict keys, so `--model-class ttanet:PlusNet` loads any
mnist-model checkpoint) whose eval-mode forward averages the logits of the picture and
copies shifted by one pixel, the new border filled with the background's value. Training
mode is one view: the recipe is unchanged.
"""

import torch.nn.functional as F
from torch import nn

from mnist_model.model import MNIST_MEAN, MNIST_STD, MnistNet

BACKGROUND = (0.0 - MNIST_MEAN) / MNIST_STD
"""A black pixel, normalised."""
PLUS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
SQUARE = tuple((a, b) for a in (-1, 0, 1) for b in (-1, 0, 1))


def shifted(x, dy: int, dx: int):
    """``x`` (N, 1, 28, 28) moved by (dy, dx) pixels, at most one, background filled in."""
    padded = F.pad(x, (1, 1, 1, 1), value=BACKGROUND)
    return padded[:, :, 1 + dy : 29 + dy, 1 + dx : 29 + dx]


class PlusNet(nn.Module):
    """Five views: the picture and its one-pixel shifts up, down, left and right."""

    views = PLUS

    def __init__(self) -> None:
        super().__init__()
        for name, child in MnistNet().named_children():
            setattr(self, name, child)

    def one(self, x):
        x = self.stage2(self.stage1(self.stem(x)))
        return self.gap(self.classifier(x)).flatten(1)

    def forward(self, x):
        if self.training:
            return self.one(x)
        return sum(self.one(shifted(x, a, b)) for a, b in self.views) / len(self.views)


class SquareNet(PlusNet):
    """Nine views: every shift of at most one pixel in each direction."""

    views = SQUARE
