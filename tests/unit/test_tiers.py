"""The quick tier's guard (root conftest.py): what makes a test slow by nature, counted."""

from __future__ import annotations

import subprocess

from helpers.tiers import QUICK_STEPS, tier_problems


def test_a_process_or_a_long_training_leaves_the_quick_tier() -> None:
    assert tier_problems(set(), [], 0) == []
    assert tier_problems(set(), [], QUICK_STEPS) == []
    assert "mark it slow" in tier_problems(set(), [], QUICK_STEPS + 1)[0]
    assert "starts a process" in tier_problems({"integration"}, [["python"]], 0)[0]
    assert len(tier_problems(set(), [["python"]], QUICK_STEPS + 1)) == 2
    # the slow tier and the other explicit tiers are what such tests are for
    for marker in ("slow", "acceptance", "benchmark", "network"):
        assert tier_problems({marker}, [["python"]], 10**6) == []
    # an e2e test may start a process, not train long
    assert tier_problems({"e2e"}, [["python"]], 0) == []
    assert tier_problems({"e2e"}, [], QUICK_STEPS + 1)


def test_the_audit_counts_in_every_test() -> None:
    import mnist_model.train as training

    assert subprocess.Popen.__init__.__name__ == "counting_popen"
    assert training._step.__name__ == "counting_step"
