"""Typed decoding of one event line: msgspec's `Event` (ingest/rows.py) against an equal pydantic model in strict
mode, on the events of bench/ingest_bench.py, one thread, two alternating passes each (docs/decisions/0005).

    .venv/bin/python bench/decode_libraries.py
"""

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Annotated, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ingest_bench as ib  # noqa: E402
import msgspec  # noqa: E402
import pydantic  # noqa: E402
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field  # noqa: E402

from ingest.countries import COUNTRY_CODES  # noqa: E402
from ingest.rows import Event  # noqa: E402

Country = Literal[tuple(sorted(COUNTRY_CODES))]
class PEvent(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    event_id: uuid.UUID
    platform: Annotated[str, Field(min_length=1, max_length=64)]
    user: Annotated[str, Field(min_length=1, max_length=256)]
    ts: AwareDatetime
    type: Literal["session", "install"] | None = None
    duration_s: Annotated[int, Field(ge=0, le=86400)] | None = None
    bytes: Annotated[int, Field(ge=0)] | None = None
    country: Country | None = None
    province: Annotated[str, Field(max_length=8)] | None = None
    os: Literal["android", "ios", "web", "other"] | None = None
lines = [json.dumps(e).encode() for e in ib.generate(10000)]
dm = msgspec.json.Decoder(Event).decode
dp = PEvent.model_validate_json
for name, f in (("msgspec", dm), ("pydantic", dp), ("msgspec", dm), ("pydantic", dp)):
    t = time.thread_time()
    for line in lines:
        f(line)
    print(f"{name:9} {(time.thread_time()-t)/len(lines)*1e6:.2f} us per line")
print("pydantic", pydantic.VERSION, "msgspec", msgspec.__version__)
