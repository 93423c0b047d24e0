"""Builds the optional C fast path of ingestion (ingest/_fast.c); everything else is in pyproject.toml.

`optional=True`: without a C compiler the install still succeeds and every row takes the Python steps.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("ingest._fast", ["ingest/_fast.c"], extra_compile_args=["-O2"], optional=True)])
