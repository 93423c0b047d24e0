"""`pip install .` ships every file the service reads at run time: the dashboard's page, scripts, styles and
libraries match the package-data globs of pyproject.toml."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_dashboard_file_is_package_data() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["service"]
    package = ROOT / "service"
    files = [p.relative_to(package).as_posix() for folder in ("dashboard/static", "dashboard/templates")
             for p in (package / folder).rglob("*") if p.is_file()]
    assert len(files) > 15
    # setuptools' globs: '*' does not cross '/'
    missing = [f for f in files if not any(fnmatch.fnmatch(f, g) and f.count("/") == g.count("/") for g in globs)]
    assert missing == []
