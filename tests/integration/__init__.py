"""Tests of the storage-facing modules against a fresh chDB database each."""
