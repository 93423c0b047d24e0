"""The install builds the C parts (the fast path, the stored-id filter); only a machine without a C compiler
may run without them, and must say so."""

from __future__ import annotations

import os

from ingest import fastpath, seen


def test_the_fast_path_is_built() -> None:
    assert fastpath.AVAILABLE or os.environ.get("VNMETER_PURE_PYTHON") == "1", (
        "ingest/_fast.c was not built (no C compiler?); set VNMETER_PURE_PYTHON=1 to run without it")


def test_the_stored_id_filter_is_built() -> None:
    assert seen._seen is not None or os.environ.get("VNMETER_PURE_PYTHON") == "1", (
        "ingest/_seen.c was not built (no C compiler?); set VNMETER_PURE_PYTHON=1 to run without it")
