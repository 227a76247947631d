"""Schemathesis against the served OpenAPI: every operation, a bounded number of generated
requests each, with all of Schemathesis' checks (no 5xx, answers match their documented
schemas, status codes and content types, valid data accepted and invalid data refused).
Then its coverage phase: the schema's boundaries one by one (each keyword violated, each
documented limit and its neighbour) and every undocumented method (405 with an Allow header).

The operations are driven through Schemathesis' Python API and Hypothesis directly: its pytest
plugin (``schemathesis.pytest``) does not load under the pytest this project uses."""

from __future__ import annotations

from collections import Counter

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402

from schemathesis.generation import GenerationMode  # noqa: E402
# Imported while pytest collects, not by from_url in the first test: pytest rewrites a plugin's
# modules with ast.parse (see the fixture below for why that may fail later in a run).
import schemathesis.specs.openapi.schemas  # noqa: E402,F401

from tests.serve.conftest import Server  # noqa: E402

EXAMPLES = 25  # per operation and generation mode


@st.composite
def real_images(draw, fmt: str) -> bytes:
    """Real PNG/JPEG files of any size, mode and content (what a binary upload field means here)."""
    import io

    import numpy as np
    from PIL import Image

    mode = draw(st.sampled_from(["L", "RGB", "RGBA", "LA", "P", "1"] if fmt == "PNG" else ["L", "RGB"]))
    width, height = draw(st.integers(2, 64)), draw(st.integers(2, 64))  # within the aspect-ratio limit (50)
    seed = draw(st.integers(0, 2**32 - 1))
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buf, format=fmt)
    return buf.getvalue()


# The upload fields' media types: Schemathesis sends these where the schema says image/png or image/jpeg.
schemathesis.openapi.media_type("image/png", real_images("PNG"))
schemathesis.openapi.media_type("image/jpeg", real_images("JPEG"))


@pytest.fixture(scope="module", params=["run_dir", "encoded_run"])
def api(request):
    """The image model, and a table model whose rows are objects with text and nulls (a tabular encoding).

    Garbage is collected first: CPython 3.11's ast.parse keeps one depth count per interpreter, and a
    finalizer that formats a traceback (3.11's carets call ast.parse) run by a collection in the middle
    of one of Hypothesis' ast.parse calls broke it: "SystemError: AST constructor recursion depth
    mismatch" (seen twice in full runs, from request coroutines an earlier in-process test left)."""
    import gc

    gc.collect()
    srv = Server(request.getfixturevalue(request.param))
    try:
        yield srv, schemathesis.openapi.from_url(f"http://127.0.0.1:{srv.port}/openapi.json")
    finally:
        srv.close()


def test_served_api_conforms_to_its_openapi(api):
    srv, schema = api
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /v1/predict", "POST /v1/predict/batch", "POST /v1/explain",
                                               "GET /health", "GET /ready", "GET /metadata", "GET /metrics"}
    failures, statuses = {}, Counter()
    for operation in operations:
        for mode in GenerationMode:
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case):
                response = case.call_and_validate()
                statuses[(operation.label, mode.value, response.status_code)] += 1

            try:
                check()
            except Unsatisfiable:  # nothing to make invalid: GET /health has no parameters
                assert mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET"
            except Exception as exc:  # noqa: BLE001 - reported per operation below
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:1500]
    # Valid uploads and JSON were generated and answered: the checks ran against real predictions.
    for label in ("POST /v1/predict", "POST /v1/predict/batch", "POST /v1/explain"):
        assert statuses[(label, "positive", 200)] > 0, statuses
        assert sum(n for (op, mode, status), n in statuses.items() if op == label and mode == "negative" and 400 <= status < 500) > 0
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def test_the_coverage_phase_finds_nothing(api):
    """Schemathesis' deterministic boundary cases, every operation (about 400 requests, a few seconds).
    It found a JSON body with an unknown key answered 200 although the schema forbids other keys,
    and two examples sent to /v1/explain refused with 413 (nothing was too large; /v1/predict: 422)."""
    _, schema = api
    failures, methods = {}, Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        for case in schema.iter_coverage_cases(operation, generation_modes=list(GenerationMode),
                                               generation_config=schema.config.generation):
            methods[(operation.label, case.method.upper())] += 1
            try:
                case.call_and_validate()
            except BaseException as exc:  # noqa: BLE001 - schemathesis raises an exception group; reported below
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                failures.setdefault(operation.label, str(exc)[:1500])
    # every operation was also called with methods it does not document
    for label in ("POST /v1/predict", "GET /health", "GET /metadata"):
        assert {method for (op, method) in methods if op == label} >= {"PUT", "DELETE", "PATCH"}, methods
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
