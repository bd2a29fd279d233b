"""services/events.py on a real database: publish, live fan-out, Last-Event-ID replay, overflow, prune."""

from __future__ import annotations

import threading
import time

import pytest

from models import Event as EventRow
from services import events

WAIT_S = 5.0
N = "index-progress"  # a type every subscription receives


@pytest.fixture
def make_hub(db):
    """EventHubs that are always shut down, so no poller outlives its test."""
    made: list[events.EventHub] = []

    def make(**options) -> events.EventHub:
        made.append(events.EventHub(**options))
        return made[-1]

    yield make
    for each in made:
        each.shutdown()


def drain(sub: events.Subscription, timeout: float = 0.05) -> list[events.Event]:
    got = []
    while (event := sub.get(timeout)) is not None:
        got.append(event)
    return got


def test_publish_returns_increasing_ids_and_stores_json(db):
    first = events.publish("settings-changed", {"keys": ["siteTitle"]})
    second = events.publish("index-complete", {"added": 1, "removed": 0, "updated": 2})
    assert second > first
    assert events.latest_id() == second
    row = EventRow.get_by_id(first)
    assert row.type == "settings-changed" and '"siteTitle"' in row.data


def test_created_at_keeps_subsecond_precision(db):
    """Pruning by age needs an 8-byte float column: a 4-byte REAL rounds epoch seconds to 128 s steps."""
    before = time.time()
    event_id = events.publish(N, {})
    assert before - 0.01 <= EventRow.get_by_id(event_id).created_at <= time.time() + 0.01


def test_a_live_subscriber_receives_what_is_published(make_hub):
    hub = make_hub(poll_interval_s=0.05)
    sub = hub.subscribe(None)
    try:
        assert sub.get(0.1) is None
        event_id = events.publish("thumbnail-generated", {"path": "a/b.jpg"})
        event = sub.get(WAIT_S)
        assert event == events.Event(event_id, "thumbnail-generated", {"path": "a/b.jpg"}, event.created_at)
        assert sub.last_id == event_id
    finally:
        sub.close()
    assert hub.subscriber_count() == 0


def test_publish_wakes_the_poller_instead_of_waiting_an_interval(make_hub):
    hub = make_hub(poll_interval_s=60)
    sub = hub.subscribe(None)
    event_id = events.publish("auth-changed", {"passwordEnabled": True})
    event = sub.get(WAIT_S)
    assert event is not None and event.id == event_id
    sub.close()


def test_subscribe_starts_after_the_newest_event_and_holds_no_connection(db, make_hub):
    events.publish("old", {})
    hub = make_hub(autostart=False)
    sub = hub.subscribe(None)
    assert db.is_closed()
    assert sub.last_id == events.latest_id() and not sub.resync_needed
    hub.poll_once()
    assert drain(sub) == []


def test_last_event_id_replays_missed_events_in_order_then_live_ones(make_hub):
    ids = [events.publish(N, {"i": i}) for i in range(4)]
    hub = make_hub(poll_interval_s=0.05)
    sub = hub.subscribe(ids[0])
    live = events.publish(N, {"i": 4})
    got = [sub.get(WAIT_S) for _ in range(4)]
    assert [e.id for e in got if e] == [*ids[1:], live]
    assert [e.data["i"] for e in got if e] == [1, 2, 3, 4]
    assert not sub.resync_needed
    sub.close()


def test_no_duplicates_across_the_replay_and_live_boundary(make_hub):
    hub = make_hub(autostart=False)
    first = hub.subscribe(None)  # sets the poller's cursor before the events below
    start = events.latest_id()
    ids = [events.publish(N, {"i": i}) for i in range(3)]
    second = hub.subscribe(start)  # replays the three events the poller has not delivered yet
    hub.poll_once()  # ... and now delivers them again as live events
    later = events.publish(N, {"i": 3})
    hub.poll_once()
    assert [e.id for e in drain(second)] == [*ids, later]
    assert [e.id for e in drain(first)] == [*ids, later]


def test_resync_when_the_missed_events_were_pruned(make_hub):
    ids = [events.publish(N, {"i": i}) for i in range(5)]
    assert events.prune(keep_rows=2) == 3
    hub = make_hub(autostart=False)
    gap = hub.subscribe(ids[0])
    assert gap.resync_needed and gap.last_id == ids[-1]
    edge = hub.subscribe(ids[2])  # the oldest retained row is ids[3]: nothing was lost
    assert not edge.resync_needed
    assert [e.id for e in drain(edge)] == ids[3:]


def test_resync_when_the_id_is_newer_than_any_event_or_too_far_behind(make_hub):
    ids = [events.publish(N, {"i": i}) for i in range(4)]
    hub = make_hub(autostart=False, replay_max_rows=2)
    future = hub.subscribe(ids[-1] + 1000)
    assert future.resync_needed and future.last_id == ids[-1]
    behind = hub.subscribe(ids[0])  # three missed events, only two may be replayed
    assert behind.resync_needed and drain(behind) == []


def test_a_slow_subscriber_is_dropped_without_affecting_others(make_hub):
    hub = make_hub(autostart=False, queue_size=3)
    slow, fast = hub.subscribe(None), hub.subscribe(None)
    ids = []
    for _ in range(2):
        ids += [events.publish(N, {}), events.publish(N, {})]
        hub.poll_once()
        assert [e.id for e in drain(fast)] == ids[-2:]
    assert slow.ended == "overflow" and hub.subscriber_count() == 1
    assert [slow.get(0).id for _ in range(3)] == ids[:3]  # what it had queued, then the end
    with pytest.raises(events.SubscriptionEnded) as ended:
        slow.get(0)
    assert ended.value.reason == "overflow"
    more = events.publish(N, {})
    hub.poll_once()
    assert [e.id for e in drain(fast)] == [more]


def test_a_reader_waiting_while_events_arrive_from_another_thread_misses_no_wake_up(make_hub):
    """The reader clears its wake-up before it looks at the queue: an event fanned out between its look and
    its wait still wakes it. A lost wake-up would leave get() waiting its whole timeout (None here)."""
    hub = make_hub(autostart=False)
    sub = hub.subscribe(None)
    rounds, per_round = 300, 3
    received: list[int] = []

    def read() -> None:
        while len(received) < rounds * per_round:
            event = sub.get(WAIT_S)
            if event is None:
                return
            received.append(event.id)

    reader = threading.Thread(target=read)
    reader.start()
    published = []
    for _ in range(rounds):
        published += [events.publish(N, {}) for _ in range(per_round)]
        hub.poll_once()
    reader.join(2 * WAIT_S)
    assert received == published


def test_prune_keeps_the_newest_rows(db):
    ids = [events.publish(N, {"i": i}) for i in range(10)]
    assert events.prune(keep_seconds=3600, keep_rows=4) == 6
    assert [row.id for row in EventRow.select().order_by(EventRow.id)] == ids[-4:]
    assert events.prune(keep_seconds=3600, keep_rows=4) == 0


def test_prune_drops_old_rows_but_never_the_newest(db):
    ids = [events.publish(N, {"i": i}) for i in range(4)]
    EventRow.update(created_at=1000.0).where(EventRow.id <= ids[1]).execute()
    assert events.prune(keep_seconds=60, keep_rows=100, now=2000.0) == 2
    assert [row.id for row in EventRow.select().order_by(EventRow.id)] == ids[2:]
    assert events.prune(keep_seconds=60, keep_rows=100, now=time.time() + 3600) == 1
    assert [row.id for row in EventRow.select()] == [ids[-1]]
    assert events.publish(N, {}) > ids[-1]  # ids keep growing after a prune


def test_shutdown_ends_a_waiting_subscriber_and_later_subscriptions(make_hub):
    hub = make_hub(poll_interval_s=0.05)
    sub = hub.subscribe(None)
    outcome: list[str] = []

    def stream():
        try:
            sub.get(30)
            outcome.append("returned")
        except events.SubscriptionEnded as exc:
            outcome.append(exc.reason)

    waiter = threading.Thread(target=stream)
    waiter.start()
    time.sleep(0.1)
    started = time.monotonic()
    hub.shutdown()
    waiter.join(WAIT_S)
    assert outcome == ["shutdown"] and time.monotonic() - started < 2
    late = hub.subscribe(None)
    with pytest.raises(events.SubscriptionEnded):
        late.get(0)


def test_the_default_hub_is_replaced_after_shutdown(db):
    first = events.hub()
    sub = first.subscribe(None)
    events.shutdown()
    assert sub.ended == "shutdown"
    second = events.hub()
    assert second is not first
    events.shutdown()


def test_admin_events_reach_only_admin_subscriptions_live_and_replayed(make_hub):
    hub = make_hub(autostart=False)
    seen = events.publish(N, {})
    replayed_secret = events.publish("download-error", {"message": "feeds.example could not be reached"})
    public, admin = hub.subscribe(seen), hub.subscribe(seen, admin=True)
    try:
        live_secret = events.publish("download-complete", {"entry": {"title": "secret"}})
        unknown = events.publish("a-type-nobody-classified", {})
        last = events.publish("thumbnail-generated", {"path": "a.jpg"})
        hub.poll_once()
        assert [e.id for e in drain(public)] == [last]
        assert [e.id for e in drain(admin)] == [replayed_secret, live_secret, unknown, last]
    finally:
        public.close()
        admin.close()
    assert EventRow.get_by_id(replayed_secret).audience == "admin" and EventRow.get_by_id(last).audience == "everyone"


def test_init_db_adds_the_audience_column_to_an_older_event_table(db):
    """An upgrade: the rows from before count as admin events (fail closed); running it again is harmless."""
    from models import database
    from services.database import init_db, is_postgres

    key = "BIGSERIAL PRIMARY KEY" if is_postgres() else "INTEGER PRIMARY KEY"
    database.execute_sql("DROP TABLE event")
    database.execute_sql(f"CREATE TABLE event (id {key}, type VARCHAR(64) NOT NULL, "
                         "data TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL)")
    database.execute_sql("INSERT INTO event (type, data, created_at) VALUES ('index-progress', '{}', 0)")
    init_db()
    init_db()
    assert [row.audience for row in EventRow.select()] == ["admin"]
    assert EventRow.get_by_id(events.publish(N, {})).audience == "everyone"


def test_after_a_stopping_workers_shutdown_a_new_stream_ends_at_once(db, monkeypatch):
    """A worker stopping gracefully ends its streams; a browser that reconnects on a kept-alive connection before
    the worker is gone gets a stream that ends at once (its `retry` sends it to the next worker), not one that
    holds the stop for graceful_timeout. A plain shutdown (tests, a restart in-process) makes a fresh hub later."""
    monkeypatch.setattr(events, "_default", None)
    before = events.publish("index-progress", {"n": 1})
    events.shutdown(final=True)
    missed = events.publish("index-progress", {"n": 2})
    sub = events.hub().subscribe(before)  # resuming after `before`: gets what it missed, then the end
    assert sub.get(0).id == missed
    with pytest.raises(events.SubscriptionEnded, match="shutdown"):
        sub.get(0)
    sub.close()
    events.shutdown()
    fresh = events.hub().subscribe()
    try:
        assert fresh.ended is None
    finally:
        fresh.close()
        events.shutdown()
