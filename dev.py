#!/usr/bin/env python3
"""Set up a local virtualenv on first use, then run the service or the tests.

    python3 dev.py serve [vnmeter serve options]   # run the API on the embedded engine
    python3 dev.py test  [pytest options]          # run the whole test suite
    python3 dev.py lint                            # ruff + mypy
    python3 dev.py vnmeter ...                     # any vnmeter command

Only Python 3.11+ is needed; everything else is installed into ./.venv.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".vnmeter-installed"
# A change to any of these re-installs.
BUILD_INPUTS = ("pyproject.toml", "client/pyproject.toml")


def ensure_env() -> None:
    """Create .venv and install the project with its dev extras, and the client library (client/, used by
    `vnmeter send` and its tests), when their build inputs changed."""
    wanted = hashlib.sha256(b"".join((ROOT / name).read_bytes() for name in BUILD_INPUTS)).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("dev.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print("dev.py: installing vnmeter, vnmeter-client and their dependencies into .venv", flush=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]", "-e", str(ROOT / "client")], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on whatever python3 the machine has
        print("dev.py: vnmeter needs Python 3.11 or newer", file=sys.stderr)
        return 2
    ensure_env()
    command, rest = argv[0], argv[1:]
    if command == "serve":
        args = [str(BIN / "vnmeter"), "serve", *rest]
    elif command == "test":
        # Two workers, each taking whole modules (module fixtures are built once); `-n 0` runs in one process.
        workers = [] if any(arg.startswith(("-n", "--numprocesses")) for arg in rest) else [
            "-n", "2", "--dist", "loadfile"]
        args = [str(BIN / "python"), "-m", "pytest", *workers, *rest]
    elif command == "lint":
        ruff = subprocess.run([str(BIN / "ruff"), "check", "."], cwd=ROOT).returncode
        mypy = subprocess.run([str(BIN / "mypy")], cwd=ROOT).returncode
        return ruff or mypy
    elif command == "vnmeter":
        args = [str(BIN / "vnmeter"), *rest]
    else:
        print(f"dev.py: unknown command {command!r}; use serve, test, lint or vnmeter", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    os.execv(args[0], args)  # noqa: S606 - replaces this process with the venv's tool


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
