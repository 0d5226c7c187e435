"""MNIST data: locate, acquire, verify and load the four canonical IDX files.

Importing this package does nothing but define names: no folders are created, no
downloads start and logging is left to the application.
"""

from mnist_model.data.acquisition import acquire, default_sources
from mnist_model.data.checksums import FileStatus, md5_file, verify, verify_report
from mnist_model.data.idx import encode_idx, parse_idx, read_idx_header
from mnist_model.data.layout import ENV_VAR, RAW_FILES, raw_dir, resolve_data_root
from mnist_model.data.load import MNIST_MEAN, MNIST_STD, load_split, normalize
from mnist_model.data.pypi_source import PypiWheelSource
from mnist_model.data.source import Source
from mnist_model.data.torchvision_source import TorchvisionSource
from mnist_model.data.unpickle import restricted_loads

__all__ = [
    "ENV_VAR",
    "MNIST_MEAN",
    "MNIST_STD",
    "RAW_FILES",
    "FileStatus",
    "PypiWheelSource",
    "Source",
    "TorchvisionSource",
    "acquire",
    "default_sources",
    "encode_idx",
    "load_split",
    "md5_file",
    "normalize",
    "parse_idx",
    "raw_dir",
    "read_idx_header",
    "resolve_data_root",
    "restricted_loads",
    "verify",
    "verify_report",
]
