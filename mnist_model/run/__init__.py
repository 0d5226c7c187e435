"""Running the recipe on a machine: the runner and its output folder, the folder lock,
the arithmetic autotuner, torchrun, seed sweeps and interleaved timing.

May import the recipe, ``data``, ``predict``, ``gate`` and ``report``.
"""
