"""Convolution and pooling layers: thin wrappers that own weights around :mod:`...ops.conv`."""
from __future__ import annotations

import math

import numpy as np

from ...ops.conv import _pair, adaptive_avg_pool2d, avg_pool2d, conv2d, conv_padding, max_pool2d
from ...tensor import Tensor
from .. import init
from ..parameter import Parameter
from .module import Module


class Conv2d(Module):
    """2-D convolution with weight (out_channels, in_channels, kH, kW), PyTorch's default init."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, dtype=np.float32):
        super().__init__()
        kh, kw = _pair(kernel_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = (kh, kw), _pair(stride)
        self.padding = conv_padding(padding, self.kernel_size, self.stride)  # 'same' and 'valid' as numbers
        self.weight = Parameter(np.empty((out_channels, in_channels, kh, kw), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            fan_in = in_channels * kh * kw  # 0 for Conv2d(0, ...): torch builds it, with a zero bias
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
            init.uniform_(self.bias, -bound, bound)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


class AvgPool2d(MaxPool2d):
    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class AdaptiveAvgPool2d(Module):
    """Average-pool to a fixed ``output_size`` whatever the input's (only sizes that divide it evenly;
    ``AdaptiveAvgPool2d(1)`` is global average pooling)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
