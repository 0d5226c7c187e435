"""Per-batch data augmentation on tensors: a random affine warp drawn per sample.

One ``affine_grid`` + ``grid_sample`` call warps the whole batch, which on CPU costs a
small fraction of a training step, whereas torchvision's per-sample PIL transforms
dominated the reference recipe's epoch time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mnist_model.data import MNIST_MEAN, MNIST_STD

BACKGROUND = -MNIST_MEAN / MNIST_STD
"""Value of a black (0) pixel after normalisation: what the warp fills in at the edges."""


def random_affine(
    images: torch.Tensor,
    generator: torch.Generator,
    *,
    max_rotation_deg: float,
    max_translate: float,
    max_scale: float,
) -> torch.Tensor:
    """Rotate, scale and shift each image of a normalised (N, 1, H, W) batch independently.

    Angles are uniform in +-max_rotation_deg, scale factors in 1 +- max_scale and shifts
    in +-max_translate of the image size (torchvision's ``translate`` convention). The
    random numbers come from ``generator`` (on the CPU) so a seed reproduces a run.
    With every magnitude 0 the images are returned unchanged.
    """
    if max_rotation_deg == 0 and max_translate == 0 and max_scale == 0:
        return images
    n = images.shape[0]

    def uniform(*shape: int) -> torch.Tensor:  # U(-1, 1), drawn on the CPU for reproducibility
        return (torch.rand(*shape, generator=generator) * 2 - 1).to(images.device)

    angle = uniform(n) * math.radians(max_rotation_deg)
    scale = 1 + uniform(n) * max_scale
    # affine_grid's coordinates span [-1, 1] across the image, i.e. 2 units per image size.
    shift = uniform(n, 2) * (2 * max_translate)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        (torch.stack((cos, -sin, shift[:, 0]), 1), torch.stack((sin, cos, shift[:, 1]), 1)), 1
    ).to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # Warp the image offset so that the background is 0: zero padding then fills with black.
    warped = F.grid_sample(images - BACKGROUND, grid, align_corners=False, padding_mode="zeros")
    return warped + BACKGROUND
