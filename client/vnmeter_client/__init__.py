"""vnmeter's client library: send anonymised app usage events to vnmeter without losing or doubling one.

    from vnmeter_client import Client

    with Client("https://vnmeter.example", VENDOR_KEY, queue="vnmeter-queue.sqlite3") as client:
        client.track(platform="zalo", user="device-42", ts=datetime.now(UTC), duration_s=600, bytes=2_500_000)
        client.flush()

Events are committed to a SQLite queue file before `track` returns and sent in gzip NDJSON batches by one
background thread, retried unchanged until the service answers. docs/INGESTION.md ("Sending events") has the rules.
"""

from vnmeter_client.client import BatchResult, Client, Rejection, SendError, Stats, __version__
from vnmeter_client.events import new_event
from vnmeter_client.queue import QueueError, QueueInUse
from vnmeter_client.retry import RetryPolicy

__all__ = ["BatchResult", "Client", "QueueError", "QueueInUse", "Rejection", "RetryPolicy", "SendError", "Stats",
           "__version__", "new_event"]
