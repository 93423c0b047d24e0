"""The install builds the C fast path; only a machine without a C compiler may run without it, and must say so."""

from __future__ import annotations

import os

from ingest import fastpath


def test_the_fast_path_is_built() -> None:
    assert fastpath.AVAILABLE or os.environ.get("VNMETER_PURE_PYTHON") == "1", (
        "ingest/_fast.c was not built (no C compiler?); set VNMETER_PURE_PYTHON=1 to run without it")
