"""`vnmeter serve` with a writer that stores nothing: what the HTTP path alone (HTTP, gunzip, the steps)
costs. The writer still builds each request's batch as the real one does, then answers
at once with every row accepted. For measurement only (bench/ingest_bench.py --null-writer).

    python bench/serve_null_writer.py serve --port 8000
"""

from __future__ import annotations

import sys
from concurrent.futures import Future
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest import write  # noqa: E402
from ingest.quality import Tally  # noqa: E402
from ingest.rows import Accepted  # noqa: E402
from service.cli import main  # noqa: E402


def submit_nothing(self: write.Writer, rows: Accepted, tally: Tally | None = None
                   ) -> Future[write.WriteResult]:
    future: Future[write.WriteResult] = Future()
    if rows:
        write._Batch.of(rows, tally, future)
    future.set_result(write.WriteResult(len(rows), 0))
    return future


if __name__ == "__main__":
    write.Writer.submit = submit_nothing  # type: ignore[method-assign]
    sys.exit(main(sys.argv[1:]))
