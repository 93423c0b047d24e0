"""Fixtures shared by the API tests."""

import pytest

from tests.factories import Api


@pytest.fixture
def vng(api: Api) -> dict[str, str]:
    """A vendor key of 'vng' on the module's `api`."""
    return api.vendor("vng")
