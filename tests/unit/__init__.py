"""Tests of one module at a time, with no database and no service."""
