"""The folded inference path computes the eager model's function."""

import torch
from hypothesis import given
from hypothesis import strategies as st

from mnist_model.inference import LOGIT_ATOL, ChannelSign, fold_for_inference
from mnist_model.model import MnistNet

ATOL = LOGIT_ATOL  # float32 rounding of the folded weights


def _model_with_nontrivial_batchnorm(seed: int) -> MnistNet:
    # Scales of both signs: a negative one turns the max-pool before a BatchNorm into a
    # minimum, the case the fold through a pool must get right.
    torch.manual_seed(seed)
    model = MnistNet()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5).mul_(
                torch.randint(0, 2, module.weight.shape) * 2 - 1
            )
            module.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


@given(seed=st.integers(0, 2**16), batch=st.integers(1, 64), channels_last=st.booleans())
def test_folded_logits_match_eager(seed, batch, channels_last):
    model = _model_with_nontrivial_batchnorm(seed)
    folded = fold_for_inference(model, channels_last=channels_last)
    x = torch.randn(batch, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        eager, fast = model(x), folded(x)
    torch.testing.assert_close(fast, eager, atol=ATOL, rtol=0)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())


def test_folding_leaves_the_original_model_alone():
    model = _model_with_nontrivial_batchnorm(0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fold_for_inference(model)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_fold_through_a_pool_keeps_the_sign_of_negative_scales():
    # Guards the guard: the random models above must really contain negative scales in a
    # pooled block, or the sign handling would go untested.
    model = _model_with_nontrivial_batchnorm(0)
    assert bool((model.stem[2].weight < 0).any()) and isinstance(model.stem[1], torch.nn.MaxPool2d)
    folded = fold_for_inference(model)
    assert any(isinstance(m, ChannelSign) for m in folded.modules())
    x = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), model(x), atol=ATOL, rtol=0)


def test_positive_scales_fold_without_a_sign_layer():
    model = _model_with_nontrivial_batchnorm(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data.abs_()
    assert not any(isinstance(m, ChannelSign) for m in fold_for_inference(model).modules())
