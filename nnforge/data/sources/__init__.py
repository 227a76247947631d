"""Readers for each dataset source; :mod:`nnforge.data.registry` maps names to them."""
