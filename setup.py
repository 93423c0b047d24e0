"""Builds the optional C parts of ingestion (ingest/_fast.c: the fast path; ingest/_seen.c: the stored-id
filter); everything else is in pyproject.toml.

`optional=True`: without a C compiler the install still succeeds, every row takes the Python steps and every
id is looked up in ClickHouse.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(name, [f"{name.replace('.', '/')}.c"], extra_compile_args=["-O2"], optional=True)
                   for name in ("ingest._fast", "ingest._seen")])
