"""Smaller and portable models: ONNX export, pruning, int8 quantization, and their comparison.

Kept light on purpose: import the submodules (``nnforge.compress.export`` ...) for the work.
"""
