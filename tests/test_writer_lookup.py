"""The writer's dedup lookup: which of a group's (platform, event id) pairs are already stored."""

from __future__ import annotations

from ingest.write import STORED_IDS_SQL, Writer
from queries.store import IntArray, Store


def test_finds_exactly_the_stored_pairs(store: Store) -> None:
    big = (1 << 127) + 5  # the top bit set: bound and read back as an unsigned 128-bit value
    store.insert("event_ids", [["zalo", 1], ["zalo", 2], ["zalo", big], ["momo", 3]], ["platform", "id128"])
    writer = Writer(store)
    try:
        keys = {("zalo", "2"), ("zalo", "3"), ("zalo", str(big)), ("zalo", "7"), ("momo", "1")}
        # 3 is stored for momo only, 1 for zalo only, 7 nowhere; ids come as the requests' pieces, 2 repeated
        pieces = IntArray(["2,3", f"{big},7,2", "1"])
        assert writer._stored_ids(keys, {"zalo", "momo"}, pieces) == {("zalo", "2"), ("zalo", str(big))}
        assert writer._stored_ids({("momo", "3")}, {"momo"}, IntArray(["3"])) == {("momo", "3")}
    finally:
        writer.close()


def test_the_lookup_parses_as_clickhouse_sql(store: Store) -> None:
    formatted = store.command("SELECT formatQuery({sql:String})", {"sql": STORED_IDS_SQL})
    assert " ".join(formatted.replace("\\n", " ").split()) == (
        "SELECT platform, id128 FROM event_ids WHERE (platform IN ({platforms:Array(String)})) "
        "AND (id128 IN ({ids:Array(UInt128)}))")
