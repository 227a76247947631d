"""One BLAS thread per test worker (see tests/scratch/conftest.py for why)."""
import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _single_blas_thread():
    with threadpool_limits(limits=1):
        yield
