"""gradcheck passes for correct ops and explains itself for a wrong backward."""
import numpy as np
import pytest

from nnforge import scratch
from nnforge.scratch.autograd import attach
from nnforge.scratch.nn import functional as F
from nnforge.scratch.tensor import Tensor

from .helpers import s64


def test_passes_for_correct_ops():
    rng = np.random.default_rng(0)
    x, w = s64(rng.standard_normal((2, 2, 5, 5))), s64(rng.standard_normal((3, 2, 3, 3)))
    assert scratch.gradcheck(lambda a, b: F.max_pool2d(F.conv2d(a, b, padding=1).tanh(), 2), [x, w])
    a, b = s64(rng.standard_normal((3, 4))), s64(rng.uniform(0.5, 2, (4,)))
    assert scratch.gradcheck(lambda p, q: (p / q).log_softmax(1) * q.sqrt(), [a, b])


def _bad_square(x: Tensor) -> Tensor:
    return attach(Tensor._wrap(x.data ** 2), (x,), lambda g: (g * x.data,))  # should be 2x


def test_reports_wrong_backward():
    x = s64(np.array([[1.0, -2.0], [0.5, 3.0]]))
    y = s64(np.array([1.0, 2.0]))
    with pytest.raises(scratch.GradcheckError) as info:
        scratch.gradcheck(lambda a, b: _bad_square(a) + b, [x, y])
    report = str(info.value)
    assert "max abs err" in report and "NO" in report and "yes" in report
    lines = [ln for ln in report.splitlines() if ln.strip().startswith(("0", "1"))]
    assert "NO" in lines[0] and "yes" in lines[1]  # the table blames input 0 only
    assert scratch.gradcheck(lambda a: _bad_square(a), [x], raise_exception=False) is False
