"""One BLAS thread per test worker.

Tests run under pytest-xdist (one process per core); a multi-threaded OpenBLAS pool in each
worker, spinning next to torch's, turns a 0.2 s training test into a 15 s one on a busy 2-core
machine. The limit is set at run time (threadpoolctl), so it works whenever NumPy was imported.
"""
import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _single_blas_thread():
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(previous)
