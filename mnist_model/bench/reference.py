"""A re-implementation of the reference recipe, kept here as the benchmark's baseline only.

The reference project trains an EVA-style CNN (about 7.8k parameters, full-resolution
3x3 convolutions, dropout) with a per-sample torchvision DataLoader (ToTensor +
Normalize on PIL images), batch 64, SGD lr 0.017 momentum 0.9, 20 epochs. Its exact
layer list is not published with the figures we have, so this network is a stand-in of
the same style and exactly the same size (7,824 parameters); the recipe (data path,
batch, optimiser, epochs) is reproduced as is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mnist_model.model import MNIST_MEAN, MNIST_STD

REFERENCE_EPOCHS = 20
REFERENCE_BATCH = 64
REFERENCE_LR = 0.017
REFERENCE_MOMENTUM = 0.9


def _block(cin: int, cout: int, dropout: float) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, bias=False),
        nn.ReLU(),
        nn.BatchNorm2d(cout),
        nn.Dropout(dropout),
    ]


class ReferenceNet(nn.Module):
    def __init__(self, dropout: float = 0.05) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(1, 8, dropout),  # 26
            *_block(8, 16, dropout),  # 24
            nn.MaxPool2d(2),  # 12
            nn.Conv2d(16, 8, 1, bias=False),
            *_block(8, 12, dropout),  # 10
            *_block(12, 16, dropout),  # 8
            *_block(16, 16, dropout),  # 6
            nn.Conv2d(16, 10, 3, bias=False),  # 4: class maps, no BN/ReLU
            nn.AdaptiveAvgPool2d(1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.features(x).flatten(1), dim=1)


def reference_dataset(root: str, train: bool):
    """torchvision's MNIST with the reference's per-sample transforms (read once a run)."""
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))]
    )
    return datasets.MNIST(root, train=train, download=False, transform=transform)


def reference_loader(dataset, batch_size: int, seed: int):
    """The reference's per-sample DataLoader over ``dataset``, one epoch's worth."""
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=dataset.train, generator=generator
    )


def reference_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=REFERENCE_LR, momentum=REFERENCE_MOMENTUM)
