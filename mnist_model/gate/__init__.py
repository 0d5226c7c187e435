"""The acceptance gate: what a model must show before it is accepted.

``verdict.judge`` is the one place a figure is compared with its floor; the acceptance
tests, ``mnist-model gate``, ``ood``, ``thresholds check``, the model card and the CI job
summary all read its checks. Around it: ``measure`` (the figures of a live model),
``ood`` (the out-of-distribution suite), ``paired`` (the comparison with an accepted
model), ``evidence`` and ``floors`` (recorded models, and the floors derived from them),
``thresholds`` (the floors file), ``stats`` and ``inputs`` (preparing what a judgement
needs, once). ``plugin`` is the pytest plugin of the acceptance suite.

May import the recipe, ``data`` and ``predict``; nothing here runs at import.
"""
