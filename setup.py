"""Build step for the two C modules (everything else is in pyproject.toml).

Both are for the server's per-request cost, and both are optional: without a C compiler the
install still succeeds and the Python path is used.
- ``nnforge.data._framing``: the framing step of ``Preprocessing.image_to_array`` (the same
  bytes as the Python version, bit for bit);
- ``nnforge.data._png``: PNG row unfiltering for ``nnforge.data.png`` (else Pillow decodes).
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("nnforge.data._framing", ["nnforge/data/_framing.c"], optional=True,
              # no fused multiply-adds: the Lanczos weights must round exactly as Pillow's do
              extra_compile_args=["-O2", "-ffp-contract=off"]),
    Extension("nnforge.data._png", ["nnforge/data/_png.c"], optional=True, extra_compile_args=["-O2"]),
])
