"""Data: named datasets, file readers, rows streamed from disk, synthetic problems.

- :mod:`aekit.data.catalog`: ``load_digits`` (embedded), ``load_dataset`` (by name or path,
  split in two);
- :mod:`aekit.data.idx`: ``load_fashion_mnist``, ``load_mnist`` (their IDX files found or
  downloaded, ``fetch_idx_files``, ``read_idx``);
- :mod:`aekit.data.files`: ``read_array`` (``.npy``, ``.npz``, text) and ``open_rows``
  (``.npy``, memmaps, shard directories, Parquet, a block of rows at a time);
- :mod:`aekit.data.fingerprints`: whether a file changed while it is read, and what
  tells rows from other rows (a checkpoint's fingerprint of a fit's data);
- :mod:`aekit.data.delimited`: ``read_table`` (``.csv``, ``.tsv``, ``.txt`` into a
  DataFrame: header, delimiter and column types detected);
- :mod:`aekit.data.tables`: DataFrames to the coded rows a model takes, and back;
- :mod:`aekit.data.images`: ``OrientationHistograms`` (label-free image features: histograms
  of oriented gradients beside the pixels);
- :mod:`aekit.data.schema`: ``InputSchema``, what a fitted model takes as input (every
  estimator's ``schema_``);
- :mod:`aekit.data.stream`: ``ChunkStream`` (training rows larger than memory), ``save_npy``;
- :mod:`aekit.data.synthetic`: ``make_derived_variables``, ``make_low_variance``.
"""

from .catalog import (
    DATASET_NAMES,
    FASHION_MNIST_CLASSES,
    NSL_KDD_COLUMNS,
    Dataset,
    load_dataset,
    load_digits,
    read_rows,
    subsample,
)
from .idx import fetch_idx_files, load_fashion_mnist, load_mnist, read_idx
from .delimited import read_table
from .files import ArrayData, RowSource, is_streamable, open_rows, read_array
from .images import OrientationHistograms
from .schema import InputSchema
from .stream import ChunkStream, save_npy
from .synthetic import DERIVED_VARIABLE_NAMES, make_derived_variables, make_low_variance

__all__ = [
    "DATASET_NAMES",
    "DERIVED_VARIABLE_NAMES",
    "FASHION_MNIST_CLASSES",
    "NSL_KDD_COLUMNS",
    "ArrayData",
    "ChunkStream",
    "Dataset",
    "InputSchema",
    "OrientationHistograms",
    "RowSource",
    "fetch_idx_files",
    "is_streamable",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "make_derived_variables",
    "make_low_variance",
    "open_rows",
    "read_array",
    "read_idx",
    "read_rows",
    "read_table",
    "save_npy",
    "subsample",
]
