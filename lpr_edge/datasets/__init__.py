"""The data layer: labelled plate folders (``folders``), label corrections kept beside them
(``relabel``) and their fixed seeded split (``splits``). Used by evaluation, training, calibration and
the command line alike."""
from .folders import (
           IMAGE_SUFFIX_LIST,
           IMAGE_SUFFIXES,
           Dataset,
           Sample,
           image_files,
           load_dataset,
           load_images,
           read_image,
)
from .relabel import apply_corrections, correction_counts, left_out_row, load_corrections
from .splits import SPLIT_SEED, VAL_FRACTION, load_split, split, write_split

__all__ = ["IMAGE_SUFFIX_LIST", "IMAGE_SUFFIXES", "Dataset", "Sample", "image_files", "load_dataset",
           "load_images", "read_image", "apply_corrections", "correction_counts", "left_out_row", "load_corrections",
           "SPLIT_SEED", "VAL_FRACTION", "load_split", "split", "write_split"]
