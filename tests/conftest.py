"""Shared pytest configuration for mptcpext.

The suite is started by `make test`, which builds everything first; the
tests here never build. Paths are relative to the repository root.
"""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"


def pytest_report_header(config):
    return f"mptcpext root: {ROOT}"


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def build_dir():
    return BUILD


def require_file(path, why):
    """Fail (not skip) when a build product is missing: `make test` builds it."""
    if not pathlib.Path(path).exists():
        pytest.fail(f"{path} is missing ({why}); run the suite through `make test`")


os.environ.setdefault("MPX_SRCDIR", str(ROOT))
