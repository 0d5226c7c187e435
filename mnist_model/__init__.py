"""mnist_model: a <8k-parameter MNIST CNN whose quality is proven by tests.

Nothing runs at import time: no directories are created, no logging is configured,
no random state is touched.
"""

__version__ = "0.1.0"
