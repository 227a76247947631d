"""nnforge/serve/protocol.py relies on uvicorn's internals: the suite runs only against the exact
versions pyproject.toml pins, so an upgrade is a decision (rerun these tests, move the pins)."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.mark.parametrize("package", ["uvicorn", "httptools", "fastapi-offline"])
def test_installed_version_is_the_pinned_one(package):
    pins = dict(re.findall(r'"([A-Za-z0-9_.-]+)==([0-9][^";]*)"', PYPROJECT.read_text()))
    assert package in pins, f"{package} is not pinned exactly in pyproject.toml"
    assert version(package) == pins[package], (
        f"{package} {version(package)} is installed but pyproject.toml pins {pins[package]}: "
        "nnforge/serve/protocol.py was tested only against the pinned version")


def test_the_protocol_still_finds_the_uvicorn_internals_it_overrides():
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from nnforge.header_deadline import HeaderDeadlineProtocol
    from nnforge.serve.protocol import KeepAliveHttpToolsProtocol

    ours = KeepAliveHttpToolsProtocol.__mro__[:KeepAliveHttpToolsProtocol.__mro__.index(HttpToolsProtocol)]
    assert HeaderDeadlineProtocol in ours  # the playground's protocol too
    for name in ("connection_made", "connection_lost", "on_message_begin", "on_headers_complete", "on_response_complete",
                 "pause_writing", "resume_writing"):
        assert name in vars(HttpToolsProtocol), name
        assert any(name in vars(cls) for cls in ours), name
