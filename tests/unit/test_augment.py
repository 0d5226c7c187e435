"""random_affine: shapes and dtypes kept, zero magnitude is the identity, the warp only
interpolates (never invents brighter or darker pixels) and a seed reproduces the output."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from helpers.synthetic import fake_arrays
from mnist_model.augment import (
    BACKGROUND,
    ELASTIC_KNOTS,
    affine_grid,
    elastic_field,
    random_affine,
)
from mnist_model.model import normalize

DEFAULT_MAGNITUDES = {"max_rotation_deg": 7.0, "max_translate": 0.05, "max_scale": 0.05}
ZERO = {"max_rotation_deg": 0.0, "max_translate": 0.0, "max_scale": 0.0}

RANGE_ATOL = 1e-5
"""Slack on the value range: the warp subtracts and re-adds BACKGROUND around grid_sample,
which costs a few float32 ulps at values of magnitude ~3."""


def images(n: int = 16, dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.Tensor:
    """Normalised images like training sees: black background, some bright strokes."""
    raw, _ = fake_arrays(n, seed)
    raw[:, :4] = 0  # a black border, so the background value really occurs in the input
    return normalize(torch.from_numpy(raw)).to(dtype)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_augmentation_takes_only_images_so_labels_cannot_change() -> None:
    # Labels stay with their images by construction: nothing else goes in or comes out.
    params = inspect.signature(random_affine).parameters
    positional = [p.name for p in params.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == ["images", "generator"]
    out = random_affine(images(), gen(0), **DEFAULT_MAGNITUDES)
    assert isinstance(out, torch.Tensor)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [1, 5, 64])
def test_shape_and_dtype_are_preserved(n, dtype) -> None:
    x = images(n, dtype)
    out = random_affine(x, gen(1), **DEFAULT_MAGNITUDES)
    assert out.shape == x.shape == (n, 1, 28, 28)
    assert out.dtype == dtype


def test_zero_magnitude_is_exactly_the_identity() -> None:
    x = images()
    out = random_affine(x, gen(2), **ZERO)
    assert torch.equal(out, x)


def test_a_new_size_alone_is_a_bilinear_resize_of_the_whole_image() -> None:
    # The low-resolution epochs' batches: the warp's grid spans the whole input, so with
    # every magnitude 0 it is exactly what F.interpolate's bilinear resize computes.
    x = images()
    out = random_affine(x, gen(2), **ZERO, size=(20, 20))
    resized = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False)
    assert out.shape == (16, 1, 20, 20)
    torch.testing.assert_close(out, resized, atol=RANGE_ATOL, rtol=0)


def test_a_new_size_draws_the_same_random_numbers() -> None:
    # So a run's later batches do not depend on how its earlier ones were sized.
    sized, plain = gen(3), gen(3)
    out = random_affine(images(), sized, **DEFAULT_MAGNITUDES, max_elastic_px=2.0, size=(20, 20))
    random_affine(images(), plain, **DEFAULT_MAGNITUDES, max_elastic_px=2.0)
    assert out.shape == (16, 1, 20, 20)
    assert torch.equal(sized.get_state(), plain.get_state())


def test_nonzero_magnitude_changes_images() -> None:
    x = images()
    out = random_affine(x, gen(2), **DEFAULT_MAGNITUDES)
    assert not torch.allclose(out, x)


@given(
    seed=st.integers(0, 2**31 - 1),
    rotation=st.floats(0, 45),
    translate=st.floats(0, 0.3),
    scale=st.floats(0, 0.3),
)
def test_values_stay_within_background_and_input_max(seed, rotation, translate, scale) -> None:
    x = images(8, seed=seed % 1000)
    out = random_affine(
        x, gen(seed), max_rotation_deg=rotation, max_translate=translate, max_scale=scale
    )
    low = min(BACKGROUND, x.min().item())
    high = max(BACKGROUND, x.max().item())
    assert out.min().item() >= low - RANGE_ATOL
    assert out.max().item() <= high + RANGE_ATOL


def test_warped_in_border_is_background() -> None:
    # A large shift moves empty space in; it must be black (BACKGROUND), not zero.
    x = torch.full((4, 1, 28, 28), 2.0)
    out = random_affine(x, gen(3), max_rotation_deg=0.0, max_translate=0.3, max_scale=0.0)
    values = out.flatten()
    assert (values - BACKGROUND).abs().min().item() < RANGE_ATOL


def test_same_seed_same_output_different_seed_different_output() -> None:
    x = images()
    first = random_affine(x, gen(4), **DEFAULT_MAGNITUDES)
    again = random_affine(x, gen(4), **DEFAULT_MAGNITUDES)
    other = random_affine(x, gen(5), **DEFAULT_MAGNITUDES)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_global_rng_is_not_used() -> None:
    # Reproducibility rests on the explicit generator alone.
    x = images()
    torch.manual_seed(0)
    first = random_affine(x, gen(6), **DEFAULT_MAGNITUDES)
    torch.manual_seed(1)
    second = random_affine(x, gen(6), **DEFAULT_MAGNITUDES)
    assert torch.equal(first, second)


GRID_ATOL = 1e-6
"""affine_grid reduces over three terms in its own order; a few float32 ulps at |x| <= 2."""


@given(
    n=st.integers(1, 8),
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_broadcast_grid_matches_torch_affine_grid(n: int, h: int, w: int, seed: int) -> None:
    g = gen(seed)
    angle = torch.rand(n, generator=g) * 6.3
    scale = 0.5 + torch.rand(n, generator=g)
    shift = torch.rand(n, 2, generator=g) - 0.5
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        (torch.stack((cos, -sin, shift[:, 0]), 1), torch.stack((sin, cos, shift[:, 1]), 1)), 1
    )
    expected = torch.nn.functional.affine_grid(theta, [n, 1, h, w], align_corners=False)
    actual = affine_grid(cos, sin, shift, (h, w), torch.float32)
    assert actual.shape == expected.shape == (n, h, w, 2)
    torch.testing.assert_close(actual, expected, atol=GRID_ATOL, rtol=0)


@given(n=st.integers(1, 6), h=st.integers(1, 30), w=st.integers(1, 30), seed=st.integers(0, 2**16))
def test_grid_with_an_offset_is_the_plain_grid_plus_the_offset_bit_for_bit(n, h, w, seed) -> None:
    g = gen(seed)
    cos, sin = torch.randn(n, generator=g), torch.randn(n, generator=g)
    shift = torch.randn(n, 2, generator=g)
    offset = torch.randn(n, 2, h, w, generator=g)
    plain = affine_grid(cos, sin, shift, (h, w), torch.float32)
    bent = affine_grid(cos, sin, shift, (h, w), torch.float32, offset=offset)
    assert torch.equal(bent, plain + offset.permute(0, 2, 3, 1))


@given(
    n=st.integers(1, 6),
    h=st.integers(12, 40),  # (from 12 px on, per-pixel noise would break the step bound)
    w=st.integers(12, 40),
    max_px=st.sampled_from([0.5, 1.0, 2.0, 3.5]),
    seed=st.integers(0, 2**16),
)
def test_elastic_field_is_bounded_and_smooth(n, h, w, max_px, seed) -> None:
    field = elastic_field(n, (h, w), gen(seed), max_px)
    assert field.shape == (n, 2, h, w)
    pixels = field * torch.tensor([w / 2.0, h / 2.0]).view(1, 2, 1, 1)  # back to pixels
    assert pixels.abs().max().item() <= max_px + 1e-5
    # Smooth: neighbouring pixels move together. Between knots ~size/3 apart a uniform
    # draw changes by at most 2 * max_px, so one pixel's step is far below that.
    knot_gap = min(h, w) / (ELASTIC_KNOTS - 1)
    step = max_px * 2 / knot_gap * 2  # twice the linear slope: bicubic may steepen it
    assert (pixels[..., 1:, :] - pixels[..., :-1, :]).abs().max().item() <= step + 1e-5
    assert (pixels[..., 1:] - pixels[..., :-1]).abs().max().item() <= step + 1e-5


@given(n=st.integers(1, 4), h=st.integers(1, 40), w=st.integers(1, 40), seed=st.integers(0, 99))
def test_elastic_field_equals_bicubic_interpolation_of_its_knots(n, h, w, seed) -> None:
    # The basis matmul is F.interpolate by another route: same knots, same field.
    field = elastic_field(n, (h, w), gen(seed), 1.0)
    knots = torch.rand(n, 2, ELASTIC_KNOTS, ELASTIC_KNOTS, generator=gen(seed)) * 2 - 1
    smooth = F.interpolate(knots, size=(h, w), mode="bicubic", align_corners=True)
    expected = smooth.clamp(-1, 1) * torch.tensor([2.0 / w, 2.0 / h]).view(1, 2, 1, 1)
    torch.testing.assert_close(field, expected, atol=GRID_ATOL, rtol=0)


def test_elastic_warp_bends_images_reproducibly_within_the_value_range() -> None:
    x = images()
    only_elastic = {**ZERO, "max_elastic_px": 2.0}
    first = random_affine(x, gen(7), **only_elastic)
    assert torch.equal(first, random_affine(x, gen(7), **only_elastic))
    assert not torch.allclose(first, x)
    assert first.min().item() >= min(BACKGROUND, x.min().item()) - RANGE_ATOL
    assert first.max().item() <= max(BACKGROUND, x.max().item()) + RANGE_ATOL
    # Added to the affine warp, it changes the result: both are applied in one sampling.
    affine = random_affine(x, gen(8), **DEFAULT_MAGNITUDES)
    both = random_affine(x, gen(8), **DEFAULT_MAGNITUDES, max_elastic_px=2.0)
    assert not torch.allclose(affine, both)
