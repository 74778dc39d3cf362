"""The text pool's fair queue: round-robin between users, a per-user bound and a global bound."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from realtime.server.platform.errors import HubError
from realtime.server.text.fairness import FairPool


async def test_another_users_work_is_served_before_a_bursts_tail() -> None:
    """One thread, a user queues four pieces of work, then another user one: the other user's is
    served second after the running one (round-robin), not after the whole burst (first come)."""
    gate = threading.Event()
    order: list[str] = []

    def work(name: str) -> str:
        if name == "a1":
            assert gate.wait(10)
        order.append(name)
        return name

    with ThreadPoolExecutor(1) as executor:
        pool = FairPool(executor, slots=1, per_user=4, max_queued=100)
        burst = [asyncio.ensure_future(pool.run("mallory", lambda n=f"a{i}": work(n))) for i in range(1, 5)]
        await asyncio.sleep(0)
        with pytest.raises(HubError) as refused:
            await pool.run("mallory", lambda: work("a5"))
        assert refused.value.reason == "TOO_MANY_IN_FLIGHT"
        assert refused.value.retry_after and refused.value.quota
        other = asyncio.ensure_future(pool.run("bob", lambda: work("b1")))
        await asyncio.sleep(0)
        gate.set()
        results = await asyncio.wait_for(asyncio.gather(*burst, other), 10)
    assert results == ["a1", "a2", "a3", "a4", "b1"]
    assert order == ["a1", "a2", "b1", "a3", "a4"]  # FIFO would have served b1 last
    assert pool.admitted("mallory") == pool.admitted("bob") == 0 and pool.queued == 0


async def test_the_queue_is_bounded_for_everyone_and_cancelled_work_is_skipped() -> None:
    gate = threading.Event()
    ran: list[str] = []

    def work(name: str) -> str:
        assert gate.wait(10)
        ran.append(name)
        return name

    with ThreadPoolExecutor(1) as executor:
        pool = FairPool(executor, slots=1, per_user=0, max_queued=2)
        running = asyncio.ensure_future(pool.run("u1", lambda: work("u1")))
        waiting = [asyncio.ensure_future(pool.run(u, lambda n=u: work(n))) for u in ("u2", "u3")]
        await asyncio.sleep(0)
        with pytest.raises(HubError) as refused:
            await pool.run("u4", lambda: work("u4"))
        assert refused.value.reason == "OVERLOADED" and refused.value.retry_after
        # Work the pool must not refuse (a Session document) still queues.
        session = asyncio.ensure_future(pool.run("u4", lambda: work("s"), admit=False))
        waiting[0].cancel()  # a caller gone while queued: its work never runs
        await asyncio.sleep(0)
        gate.set()
        assert await asyncio.wait_for(asyncio.gather(running, waiting[1], session), 10) == ["u1", "u3", "s"]
    assert ran == ["u1", "u3", "s"]
    assert pool.queued == 0 and pool.running == 0
