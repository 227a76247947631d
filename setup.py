"""Build step for the one C module (everything else is in pyproject.toml).

``nnforge.data._framing`` is the framing step of ``Preprocessing.image_to_array`` in C, for the
server's per-request cost. It is optional: without a C compiler the install still succeeds and
the Python version (same output, bit for bit) is used.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "nnforge.data._framing", ["nnforge/data/_framing.c"], optional=True,
    # no fused multiply-adds: the Lanczos weights must round exactly as Pillow's do
    extra_compile_args=["-O2", "-ffp-contract=off"],
)])
