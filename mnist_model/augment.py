"""Per-batch data augmentation on tensors: a random affine warp (and, as an option, a
smooth elastic bend) drawn per sample.

One sampling grid + ``grid_sample`` call warps the whole batch, which on CPU costs a
small fraction of a training step, whereas torchvision's per-sample PIL transforms
dominated the reference recipe's epoch time.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from mnist_model.model import MNIST_MEAN, MNIST_STD

BACKGROUND = -MNIST_MEAN / MNIST_STD
"""Value of a black (0) pixel after normalisation: what the warp fills in at the edges."""


def random_affine(
    images: torch.Tensor,
    generator: torch.Generator,
    *,
    max_rotation_deg: float,
    max_translate: float,
    max_scale: float,
    max_elastic_px: float = 0.0,
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Rotate, scale and shift each image of a normalised (N, 1, H, W) batch independently.

    Angles are uniform in +-max_rotation_deg, scale factors in 1 +- max_scale and shifts
    in +-max_translate of the image size (torchvision's ``translate`` convention). With
    ``max_elastic_px`` each image is also bent by a smooth random displacement field of
    at most that many pixels (see ``elastic_field``). The random numbers come from
    ``generator`` (on the CPU) so a seed reproduces a run. ``size`` (height, width), if
    given, is the output's: the same warp then also resamples the whole image to that
    size, bilinearly (the training's low-resolution epochs), and the bend is measured in
    output pixels. With every magnitude 0 and no new size the images are returned unchanged.
    """
    size = tuple(images.shape[-2:]) if size is None else tuple(size)
    still = max_rotation_deg == 0 and max_translate == 0 and max_scale == 0
    if still and max_elastic_px == 0 and size == tuple(images.shape[-2:]):
        return images
    n = images.shape[0]

    def uniform(*shape: int) -> torch.Tensor:  # U(-1, 1), drawn on the CPU for reproducibility
        return (torch.rand(*shape, generator=generator) * 2 - 1).to(images.device)

    angle = uniform(n) * math.radians(max_rotation_deg)
    scale = 1 + uniform(n) * max_scale
    # affine_grid's coordinates span [-1, 1] across the image, i.e. 2 units per image size.
    shift = uniform(n, 2) * (2 * max_translate)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    bend = None
    if max_elastic_px > 0:
        bend = elastic_field(n, size, generator, max_elastic_px).to(images.device)
    grid = affine_grid(cos, sin, shift, size, images.dtype, offset=bend)
    # Warp the image offset so that the background is 0: zero padding then fills with black.
    warped = F.grid_sample(images - BACKGROUND, grid, align_corners=False, padding_mode="zeros")
    return warped + BACKGROUND


def affine_grid(
    cos: torch.Tensor,
    sin: torch.Tensor,
    shift: torch.Tensor,
    size: tuple[int, int],
    dtype: torch.dtype,
    offset: torch.Tensor | None = None,
) -> torch.Tensor:
    """``F.affine_grid`` (align_corners=False) for the per-sample maps
    [[cos, -sin, shift_x], [sin, cos, shift_y]], built by broadcasting: on the CPU,
    affine_grid's batched (H*W, 3) x (3, 2) matmul cost a training step about 4 %.
    ``offset`` (N, 2, H, W), if given, is added to the (x, y) positions.
    Returns an (N, H, W, 2) grid of (x, y) sampling positions in [-1, 1] coordinates
    (a view of (N, 2, H, W) memory)."""
    h, w = size
    # Pixel centres in affine_grid's normalised coordinates: (2i + 1) / size - 1.
    xs = ((torch.arange(w, dtype=dtype, device=cos.device) * 2 + 1) / w - 1)[None, None, :]
    ys = ((torch.arange(h, dtype=dtype, device=cos.device) * 2 + 1) / h - 1)[None, :, None]
    cos, sin = cos.to(dtype)[:, None, None], sin.to(dtype)[:, None, None]
    shift = shift.to(dtype)[:, :, None, None]
    x = cos * xs - sin * ys
    y = sin * xs + cos * ys
    # x and y are kept as two (N, H, W) planes and returned as a permuted view: the same
    # values as torch.stack((x, y), -1), but without interleaving them, and grid_sample
    # reads each coordinate contiguously: at batch 256 on the CPU, grid plus grid_sample
    # take 0.46-0.62x the time they took with the interleaved grid (docs/results.md).
    planes = torch.empty((x.shape[0], 2, *x.shape[1:]), dtype=dtype, device=cos.device)
    if offset is None:
        torch.add(x, shift[:, 0], out=planes[:, 0])
        torch.add(y, shift[:, 1], out=planes[:, 1])
    else:
        torch.add(x + shift[:, 0], offset[:, 0].to(dtype), out=planes[:, 0])
        torch.add(y + shift[:, 1], offset[:, 1].to(dtype), out=planes[:, 1])
    return planes.permute(0, 2, 3, 1)


ELASTIC_KNOTS = 4
"""The displacement field's control grid is 4x4: on a 28x28 digit that bends strokes
over about 9 pixels, the scale of a pen's wobble, without tearing a stroke apart."""


@functools.lru_cache(maxsize=8)
def _bicubic_basis(h: int, w: int) -> torch.Tensor:
    """(KNOTS**2, H*W): each knot's bicubic (align_corners) interpolation weights. The
    field is linear in the knots, so one small matmul replaces ``F.interpolate``, which
    took 3 ms of a 16 ms training step at batch 256 on two CPU threads."""
    one_hot = torch.eye(ELASTIC_KNOTS**2).view(-1, 1, ELASTIC_KNOTS, ELASTIC_KNOTS)
    basis = F.interpolate(one_hot, size=(h, w), mode="bicubic", align_corners=True)
    return basis.view(ELASTIC_KNOTS**2, h * w)


def elastic_field(
    n: int, size: tuple[int, int], generator: torch.Generator, max_px: float
) -> torch.Tensor:
    """(n, 2, H, W) smooth random displacements (x, then y) in ``affine_grid``'s [-1, 1]
    coordinates, at most ``max_px`` pixels each: uniform offsets at ELASTIC_KNOTS x
    ELASTIC_KNOTS control points, interpolated bicubically (and clamped, since bicubic
    interpolation can overshoot its knots)."""
    h, w = size
    # One pixel is 2 / size in normalised coordinates; channel 0 moves x, channel 1 y.
    # The knots are scaled, not the field: 16 values a sample instead of H * W.
    reach = (2.0 * max_px / w, 2.0 * max_px / h)
    knots = torch.rand(n, 2, ELASTIC_KNOTS**2, generator=generator) * 2 - 1
    knots *= torch.tensor(reach).view(1, 2, 1)
    smooth = (knots.view(n * 2, -1) @ _bicubic_basis(h, w)).view(n, 2, h, w)
    if h == w:  # one scalar bound: cheaper than a per-channel one
        return smooth.clamp_(-reach[0], reach[0])
    bound = torch.tensor(reach).view(1, 2, 1, 1)
    return smooth.clamp_(-bound, bound)
