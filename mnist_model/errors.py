"""Exceptions the CLI turns into a one-line message and a non-zero exit."""


class MnistModelError(Exception):
    """Base class: an expected failure with a message fit for a user."""


class DataError(MnistModelError):
    """MNIST files are missing, corrupt, or could not be acquired."""


class CheckpointError(MnistModelError):
    """A checkpoint is missing, unreadable, unsafe or for another model."""


class TrainingError(MnistModelError):
    """Training could not continue (for example a non-finite loss)."""


class WriteError(MnistModelError, OSError):
    """An output cannot be written: not a file (a folder, a device, a FIFO), its folder is
    not writable, or the disk filled up. What was there before is unchanged. An OSError
    too, so that a best-effort writer (a cache) that forgives one forgives this."""


class ImageError(MnistModelError):
    """An image that cannot be read or holds no digit."""


class NotOneDigit(ImageError):
    """An image that holds no single digit: several marks of comparable size, none that
    looks like a digit, or one the model cannot read with confidence. ``predict`` reports
    it apart from unreadable files (its own exit status)."""
