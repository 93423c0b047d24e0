"""A vendor's relay in ten lines: queue every event of an NDJSON file, then wait until vnmeter has answered all.
    python send.py URL VENDOR_KEY EVENTS.ndjson [QUEUE.sqlite3]"""
import json
import sys

from vnmeter_client import Client

url, key, path, *queue = sys.argv[1:]
with Client(url, key, queue=queue[0] if queue else "vnmeter-queue.sqlite3", on_rejected=print) as client:
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            client.send(json.loads(line))
    client.flush()
    print(json.dumps({"stats": client.stats.__dict__, "totals": client.totals()}))
