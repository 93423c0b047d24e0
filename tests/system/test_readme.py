"""README's first session, run as a new user pastes it: its shell blocks in order in one bash, in a fresh
directory, and each block's output compared with the text block the README shows after it (`…` stands for
what differs from run to run: key ids, times).

Two changes only, so that the run does not touch the developer's service or files: `python3 dev.py` is
called by its full path (the blocks run in a temporary directory) and the port is a free one, not 8000.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## A first session with curl"
MARK = "@@vnmeter-readme-block@@"
BASH = shutil.which("bash") or "/bin/bash"


def session_blocks() -> list[tuple[str, str | None]]:
    """(shell block, the text block shown after it or None) for each shell block of the section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks: list[tuple[str, str | None]] = []
    for kind, body in re.findall(r"^```(sh|text)\n(.*?)^```", section, re.S | re.M):
        if kind == "sh":
            blocks.append((body, None))
        else:
            assert blocks and blocks[-1][1] is None, "a text block must follow a shell block"
            blocks[-1] = (blocks[-1][0], body)
    return blocks


def shown_as(expected: str) -> re.Pattern[str]:
    """The pattern of a text block: literal, but `…` stands for any text within a line."""
    return re.compile("".join("[^\n]*?" if part == "…" else re.escape(part) for part in re.split("(…)", expected)))


def test_the_session_has_its_steps() -> None:
    script = "".join(shell for shell, _ in session_blocks())
    for step in ("python3 dev.py serve", "admin.key", "/health/ready", "key analyst",
                 "/v1/events", "period=2022-03", "-X POST localhost:8000/v1/summaries/2022-03", "kill"):
        assert step in script, step
    assert script.index("-X POST localhost:8000/v1/summaries") < script.index("summaries/2022-03?format=html")


def test_the_first_session_prints_what_the_readme_shows(tmp_path: Path) -> None:
    port = free_port()
    blocks = session_blocks()
    script = "set -u\n" + "".join(f"echo '{MARK}'\n{shell}" for shell, _ in blocks)
    script = (script.replace("python3 dev.py", f"python3 {ROOT / 'dev.py'}")
              .replace("dev.py serve", f"dev.py serve --port {port}").replace("localhost:8000", f"localhost:{port}"))
    env = {name: value for name, value in os.environ.items() if not name.startswith("VNMETER_")}
    process = subprocess.Popen([BASH, "-c", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=240)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the service, if the session did not stop it
    outputs = out.split(f"{MARK}\n")[1:]
    assert len(outputs) == len(blocks), f"stdout: {out}\nstderr: {err}\nlog: {_log(tmp_path)}"
    for (shell, expected), output in zip(blocks, outputs, strict=True):
        if expected is None:
            assert output == "", f"{shell} printed {output!r}; the README shows no output"
        else:
            assert shown_as(expected).fullmatch(output), (f"{shell}\nprinted:\n{output}\nthe README shows:\n{expected}"
                                                          f"\nstderr: {err}")
    assert process.returncode == 0, err


def _log(directory: Path) -> str:
    log = directory / "var" / "first-session" / "serve.log"
    return log.read_text()[-3000:] if log.exists() else "(no log)"
