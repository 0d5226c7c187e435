"""Per-batch data augmentation on tensors: a random affine warp drawn per sample.

One sampling grid + ``grid_sample`` call warps the whole batch, which on CPU costs a
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
    grid = affine_grid(cos, sin, shift, images.shape[-2:], images.dtype)
    # Warp the image offset so that the background is 0: zero padding then fills with black.
    warped = F.grid_sample(images - BACKGROUND, grid, align_corners=False, padding_mode="zeros")
    return warped + BACKGROUND


def affine_grid(
    cos: torch.Tensor,
    sin: torch.Tensor,
    shift: torch.Tensor,
    size: tuple[int, int],
    dtype: torch.dtype,
) -> torch.Tensor:
    """``F.affine_grid`` (align_corners=False) for the per-sample maps
    [[cos, -sin, shift_x], [sin, cos, shift_y]], built by broadcasting: on the CPU,
    affine_grid's batched (H*W, 3) x (3, 2) matmul cost a training step about 4 %.
    Returns an (N, H, W, 2) grid of (x, y) sampling positions in [-1, 1] coordinates."""
    h, w = size
    # Pixel centres in affine_grid's normalised coordinates: (2i + 1) / size - 1.
    xs = ((torch.arange(w, dtype=dtype, device=cos.device) * 2 + 1) / w - 1)[None, None, :]
    ys = ((torch.arange(h, dtype=dtype, device=cos.device) * 2 + 1) / h - 1)[None, :, None]
    cos, sin = cos.to(dtype)[:, None, None], sin.to(dtype)[:, None, None]
    shift = shift.to(dtype)[:, :, None, None]
    x = cos * xs - sin * ys + shift[:, 0]
    y = sin * xs + cos * ys + shift[:, 1]
    return torch.stack((x, y), dim=-1)
