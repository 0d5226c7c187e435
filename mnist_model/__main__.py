"""`python -m mnist_model ...` is the same as the `mnist-model` console script."""

import sys

from mnist_model.cli import main

if __name__ == "__main__":
    sys.exit(main())
