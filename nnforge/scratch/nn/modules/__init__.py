"""Layers, each a :class:`Module` with the name and constructor of its PyTorch counterpart."""
from .activation import GELU, Dropout, Flatten, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .attention import LayerNorm, MultiheadAttention
from .container import ModuleList, Sequential
from .conv import AdaptiveAvgPool2d, AvgPool2d, Conv2d, MaxPool2d
from .linear import Embedding, Linear, Perceptron
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, FocalLoss, MSELoss
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d
from .rnn import LSTM, RNN

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Conv2d",
           "CrossEntropyLoss", "Dropout", "Embedding", "Flatten", "FocalLoss", "GELU", "Identity",
           "LSTM", "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "MaxPool2d", "Module",
           "ModuleList", "MultiheadAttention", "Perceptron", "RNN", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh"]
