"""What only the SQLite engine promises: state survives a restart, the file stays bounded, and a
file that cannot be used is refused with one clear line."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import sys
from pathlib import Path

import pytest

from realtime.server.broker.factory import broker_spec_error, create_broker, sqlite_target
from realtime.server.broker.model import BrokerUnavailable, StreamPosition
from realtime.server.broker.sqlite import SqliteBroker

from .conftest import FakeClock


async def started(path: Path, clock: FakeClock | None = None, **kw: object) -> SqliteBroker:
    broker = SqliteBroker(path, clock=clock, **kw)  # type: ignore[arg-type]
    await broker.start()
    return broker


async def test_restart_keeps_history_epoch_kv_marks_and_idempotency(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "hub.db"
    first = await started(db, clock)
    pubs = [(await first.publish("news", f"m{i}".encode(), meta={"t": str(i)}))[0] for i in range(5)]
    await first.publish("news", b"once", idempotency_key="req-1")
    await first.kv_set("svc:doc", b"state")
    await first.kv_set_if_absent("svc:lease", b"owner", ttl=60)
    await first.mark_read("alice", ["n1", "n2"])
    await first.presence_add("news", "conn-1", user_id="alice")
    await first.close()

    again = await started(db, clock)
    try:
        res = await again.history("news", since=pubs[1].position)
        assert res.recovered and [p.offset for p in res.publications] == [3, 4, 5, 6]
        assert res.position == StreamPosition(pubs[0].epoch, 6)
        assert dict(res.publications[0].meta) == {"t": "2"}
        pub, dup = await again.publish("news", b"once", idempotency_key="req-1")
        assert dup and pub.offset == 6
        nxt, _ = await again.publish("news", b"after")
        assert (nxt.epoch, nxt.offset) == (pubs[0].epoch, 7)
        assert await again.kv_get("svc:doc") == b"state"
        assert not await again.kv_set_if_absent("svc:lease", b"other", ttl=60)
        assert await again.read_marks("alice", ["n1", "n2", "n3"]) == {"n1", "n2"}
        assert await again.presence("news") == {}  # presence is ephemeral by design
    finally:
        await again.close()


async def test_twenty_restarts_in_a_row(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    epoch = ""
    for round_ in range(20):
        broker = await started(db)
        try:
            got = await broker.history("c", limit=0)
            assert got.position.offset == round_ * 3
            if round_:
                assert got.position.epoch == epoch
            for _ in range(3):
                pub, _ = await broker.publish("c", b"x")
            epoch = pub.epoch
            await broker.kv_set(f"round:{round_}", b"done")
            assert await broker.kv_get(f"round:{max(round_ - 1, 0)}") == b"done"
        finally:
            await broker.close()
    final = await started(db)
    try:
        assert len((await final.history("c")).publications) == 60
    finally:
        await final.close()


async def test_sweep_deletes_what_expired_and_the_file_gives_space_back(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "hub.db"
    broker = await started(db, clock)
    try:
        blob = os.urandom(20_000)
        for i in range(300):
            await broker.publish(f"ch:{i % 30}", blob, history_ttl=60)
        await broker.kv_set("short", b"x", ttl=10)
        await broker.kv_set("forever", b"y")
        await broker.mark_read("alice", ["n1"], ttl=10)
        await broker.publish("kept", b"k", history_ttl=3600)
        clock.advance(120)
        done = await broker.sweep()
        assert done["channels"] == 30 and done["kv"] == 1 and done["marks"] == 1
        assert done["pages_released"] > 0
        assert await broker.kv_get("forever") == b"y"
        assert [p.data for p in (await broker.history("kept")).publications] == [b"k"]
        with sqlite3.connect(db) as raw:
            assert raw.execute("SELECT COUNT(*) FROM history").fetchone()[0] == 1
            assert raw.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 1
            assert raw.execute("PRAGMA freelist_count").fetchone()[0] < 1024
            assert raw.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    finally:
        await broker.close()


async def test_sweep_trims_history_by_age_inside_a_live_channel(tmp_path: Path, clock: FakeClock) -> None:
    broker = await started(tmp_path / "hub.db", clock)
    try:
        for _ in range(5):
            await broker.publish("c", b"old", history_ttl=100)
        clock.advance(60)
        await broker.publish("c", b"new", history_ttl=100)
        clock.advance(50)  # the first five are 110 s old, the channel is alive
        done = await broker.sweep()
        assert done["history"] == 5 and done["channels"] == 0
        assert [p.offset for p in (await broker.history("c")).publications] == [6]
    finally:
        await broker.close()


async def test_corrupt_file_is_refused_with_the_way_out(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    db.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    with pytest.raises(BrokerUnavailable) as info:
        await started(db)
    message = str(info.value)
    assert str(db) in message and "move" in message and "aside" in message and "\n" not in message
    # A damaged page inside a real database is caught by quick_check too.
    good = tmp_path / "good.db"
    broker = await started(good)
    for i in range(200):
        await broker.publish("c", os.urandom(500) + str(i).encode())
    await broker.close()
    raw = bytearray(good.read_bytes())
    raw[4096 * 2 : 4096 * 6] = os.urandom(4096 * 4)
    good.write_bytes(bytes(raw))
    with pytest.raises(BrokerUnavailable) as info:
        await started(good)
    assert str(good) in str(info.value) and "aside" in str(info.value)


async def test_a_file_in_use_by_another_hub_process_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
        "print('locked', flush=True); sys.stdin.read()",
        f"{db}.lock",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        async with asyncio.timeout(20):
            assert await holder.stdout.readline() == b"locked\n"
        with pytest.raises(BrokerUnavailable) as info:
            await started(db)
        assert str(db) in str(info.value) and "redis" in str(info.value)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        async with asyncio.timeout(10):
            await holder.wait()
    broker = await started(db)  # the holder is gone: the file is free again
    await broker.close()


async def test_two_brokers_in_one_process_cannot_share_a_file(tmp_path: Path) -> None:
    first = await started(tmp_path / "hub.db")
    try:
        with pytest.raises(BrokerUnavailable, match="another hub process"):
            await started(tmp_path / "hub.db")
    finally:
        await first.close()


async def test_unwritable_path_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: use a path under a file instead
            target = tmp_path / "a-file" / "hub.db"
            (tmp_path / "a-file").write_text("x")
        else:
            target = locked / "hub.db"
        with pytest.raises(BrokerUnavailable, match="cannot write") as info:
            await started(target)
        assert str(target) in str(info.value)
    finally:
        locked.chmod(0o700)


async def test_a_full_queue_makes_callers_wait(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    broker = await started(db, max_queue=4)
    blocker = sqlite3.connect(db, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # the writer cannot commit until this ends
        tasks = [asyncio.create_task(broker.publish("c", f"m{i}".encode())) for i in range(10)]
        for _ in range(20):  # every task runs until it queues its write or waits for a slot
            await asyncio.sleep(0)
        assert broker.queued == 4 and not any(t.done() for t in tasks)
        blocker.execute("ROLLBACK")
        async with asyncio.timeout(20):
            pubs = [(await t)[0] for t in tasks]
        assert sorted(p.offset for p in pubs) == list(range(1, 11))
        assert broker.queued == 0
    finally:
        blocker.close()
        await broker.close()


async def test_concurrent_publishes_on_one_channel_are_gap_free(tmp_path: Path) -> None:
    seed = 1717
    print("seed", seed)
    rng = random.Random(seed)
    broker = await started(tmp_path / "hub.db", max_batch=7)
    sub = broker.subscribe(maxsize=5000)
    await sub.add("c")
    try:

        async def writer(n: int) -> list[int]:
            offsets = []
            for i in range(n):
                pub, _ = await broker.publish("c", f"{n}-{i}".encode())
                offsets.append(pub.offset)
                if rng.random() < 0.2:
                    await asyncio.sleep(0)
            return offsets

        async with asyncio.timeout(60):
            results = await asyncio.gather(*(writer(40 + k) for k in range(25)))
        total = sum(40 + k for k in range(25))
        assert sorted(o for r in results for o in r) == list(range(1, total + 1))
        for r in results:
            assert r == sorted(r)
        async with asyncio.timeout(10):
            live = [(await sub.get()).offset for _ in range(total)]
        assert live == list(range(1, total + 1))
        assert [p.offset for p in (await broker.history("c")).publications] == list(
            range(total - 999, total + 1)
        )
    finally:
        await sub.close()
        await broker.close()


async def test_queued_durability_rotates_epochs_after_a_crash(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    broker = await started(db, durability="queued")
    pub, _ = await broker.publish("c", b"x")
    await broker.close()
    again = await started(db, durability="queued")
    assert (await again.history("c", since=pub.position)).recovered  # a clean stop keeps the epoch
    # A crash: the file says "not stopped cleanly" (the process died before close()).
    await again.close()
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE meta SET value = '0' WHERE key = 'clean'")
    third = await started(db)
    try:
        res = await third.history("c", since=pub.position)
        assert not res.recovered and res.position.epoch != pub.epoch and res.position.offset == 1
    finally:
        await third.close()


async def test_after_close_calls_fail_clearly(tmp_path: Path) -> None:
    broker = await started(tmp_path / "hub.db")
    await broker.close()
    await broker.close()
    with pytest.raises(BrokerUnavailable):
        await broker.publish("c", b"x")
    with pytest.raises(BrokerUnavailable):
        await broker.kv_get("k")


def test_broker_specs(tmp_path: Path) -> None:
    assert sqlite_target("sqlite", tmp_path) == (tmp_path / "hub.db", "commit")
    assert sqlite_target("sqlite:///abs/x.db", tmp_path) == (Path("/abs/x.db"), "commit")
    assert sqlite_target("sqlite:rel/x.db?durability=queued", tmp_path) == (Path("rel/x.db"), "queued")
    for bad in (
        "sqlite://host/x.db",
        "sqlite:",
        "sqlite:x.db?durability=never",
        "sqlite:x.db?mode=ro",
        "kafka://x",
    ):
        assert broker_spec_error(bad, tmp_path) is not None, bad
    for good in ("sqlite", "memory", "redis://127.0.0.1:6379/0", "sqlite:///tmp/x.db"):
        assert broker_spec_error(good, tmp_path) is None, good
    made = create_broker("sqlite", dev_dir=tmp_path)
    assert isinstance(made, SqliteBroker) and made.path == tmp_path / "hub.db" and made.durable


async def test_publish_and_remove_history_in_one_batch_stay_consistent(tmp_path: Path) -> None:
    """The writer caches channel heads within a batch; a removal in the middle of a batch must
    still start a new epoch, and the cache must not resurrect the removed channel."""
    broker = await started(tmp_path / "hub.db")
    try:
        for _ in range(5):
            first, _ = await broker.publish("c", b"a")
        a, _, b, c = await asyncio.gather(
            broker.publish("c", b"x"),
            broker.remove_history("c"),
            broker.publish("c", b"y"),
            broker.publish("c", b"z"),
        )
        assert (a[0].epoch, a[0].offset) == (first.epoch, 6)
        assert b[0].offset == 1 and b[0].epoch != first.epoch and c[0].offset == 2
        res = await broker.history("c")
        assert [p.data for p in res.publications] == [b"y", b"z"] and res.position.epoch == b[0].epoch
    finally:
        await broker.close()
    again = await started(tmp_path / "hub.db")
    try:
        assert (await again.history("c", limit=0)).position == StreamPosition(b[0].epoch, 2)
    finally:
        await again.close()


async def test_read_marks_keep_the_newest_ten_thousand_per_user_across_restarts(tmp_path: Path) -> None:
    broker = await started(tmp_path / "hub.db")
    try:
        assert await broker.mark_read("alice", [f"n{i}" for i in range(6000)]) == 6000
    finally:
        await broker.close()
    again = await started(tmp_path / "hub.db")
    try:
        assert await again.mark_read("alice", [f"n{i}" for i in range(6000, 12000)]) == 6000
        kept = await again.read_marks("alice", [f"n{i}" for i in range(12000)])
        assert kept == {f"n{i}" for i in range(2000, 12000)}
    finally:
        await again.close()


async def test_a_full_disk_fails_the_batch_loudly_and_loses_no_offset(tmp_path: Path) -> None:
    """A write that cannot be stored is an error for its caller (UNAVAILABLE upstream), never a
    silent loss; nothing of it is delivered, and the next publication takes the offset it left."""
    broker = await started(tmp_path / "hub.db")
    sub = broker.subscribe()
    await sub.add("c")
    try:
        ok, _ = await broker.publish("c", b"small")
        [pages] = await broker._write(lambda c: c.execute("PRAGMA page_count").fetchone())
        await broker._write(lambda c: c.execute(f"PRAGMA max_page_count = {pages + 2}").fetchall())
        with pytest.raises(BrokerUnavailable, match="full"):
            await broker.publish("c", os.urandom(200_000))
        await broker._write(lambda c: c.execute("PRAGMA max_page_count = 1073741823").fetchall())
        nxt, _ = await broker.publish("c", b"after")
        assert (nxt.epoch, nxt.offset) == (ok.epoch, 2)
        async with asyncio.timeout(5):
            assert [(await sub.get()).data for _ in range(2)] == [b"small", b"after"]
        assert [p.data for p in (await broker.history("c")).publications] == [b"small", b"after"]
    finally:
        await sub.close()
        await broker.close()
