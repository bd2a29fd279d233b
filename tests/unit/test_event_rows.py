"""services/event_rows.py: the event table's hot reads as SQL built once, on each database."""

from __future__ import annotations

from services import event_rows, events

N = "index-progress"


def test_reads_of_an_empty_table(db):
    assert event_rows.newest_id() == 0
    assert event_rows.oldest_id() is None
    assert event_rows.rows_after(0, 10) == []


def test_newest_oldest_and_rows_after_an_id_in_order_up_to_a_limit(db):
    ids = [events.publish(N, {"i": i, "text": "naïve ✓"}) for i in range(4)]
    assert (event_rows.oldest_id(), event_rows.newest_id()) == (ids[0], ids[-1])
    rows = event_rows.rows_after(ids[0], 2)
    assert [(row[0], row[1], row[2], row[4]) for row in rows] == [
        (ids[1], N, {"i": 1, "text": "naïve ✓"}, "everyone"), (ids[2], N, {"i": 2, "text": "naïve ✓"}, "everyone")]
    assert all(isinstance(row[3], float) for row in rows)
    assert event_rows.rows_after(ids[-1], 10) == []
