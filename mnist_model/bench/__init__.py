"""`mnist-model bench`: our recipe and inference path against the reference, in one run."""
