"""Datasets by name, standard file formats, preprocessing, augmentation and batching."""

from nnforge.data.augment import Compose, RandomAffine, build_augmentation
from nnforge.data.dataset import Dataset
from nnforge.data.loader import TensorLoader, transformed_once
from nnforge.data.preprocess import Preprocessing
from nnforge.data.registry import DATASETS, PATTERNS, dataset_info, load_dataset

__all__ = [
    "Compose", "RandomAffine", "build_augmentation", "Dataset", "TensorLoader", "transformed_once", "Preprocessing",
    "DATASETS", "PATTERNS", "dataset_info", "load_dataset",
]
