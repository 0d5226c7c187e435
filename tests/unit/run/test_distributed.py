"""Distributed helpers: shards tile the data for any world size, and one process (no
torchrun) sees every helper as the identity. Real two-process runs are in
tests/integration/test_torchrun.py."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from mnist_model.config import TrainConfig
from mnist_model.evaluate import EvalResult
from mnist_model.run import distributed


@given(count=st.integers(0, 10_000), size=st.integers(1, 16))
def test_shards_tile_the_items_in_order(count, size) -> None:
    slices = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(distributed, "world_size", lambda: size)
        for me in range(size):
            patch.setattr(distributed, "rank", lambda me=me: me)
            slices.append(distributed.shard(count))
    covered = [i for s in slices for i in range(count)[s]]
    assert covered == list(range(count))
    assert max(s.stop - s.start for s in slices) - min(s.stop - s.start for s in slices) <= 1


def test_one_process_is_rank_0_of_1_and_every_helper_is_the_identity(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert (distributed.world_size(), distributed.rank()) == (1, 0)
    assert not distributed.launched_by_torchrun()
    assert distributed.shard(10) == slice(0, 10)
    value = {"precision": "bf16"}
    assert distributed.same_on_every_rank(value) is value
    result = EvalResult(loss=0.5, correct=3, total=4, confusion=torch.eye(2, dtype=torch.long))
    assert distributed.reduce_eval(result) is result
    total = torch.tensor(5.0)
    distributed.sum_across_ranks(total)
    assert total.item() == 5.0


def test_join_torchrun_changes_nothing_outside_torchrun(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    config = TrainConfig()
    device, same = distributed.join_torchrun(torch.device("cpu"), config)
    assert device == torch.device("cpu") and same is config


def test_leave_tears_down_a_process_group_and_is_a_no_op_without_one(tmp_path) -> None:
    import torch.distributed as dist

    distributed.leave()  # no group: nothing to do, no error
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        distributed.leave()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
