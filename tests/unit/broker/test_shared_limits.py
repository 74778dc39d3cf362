"""Per-user limits shared through the broker: two `SharedLimits` on one broker are two hub
processes (workers or replicas). Runs on every engine."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from realtime.server.broker.base import Broker
from realtime.server.platform.errors import HubError
from realtime.server.platform.shared_limits import LEASE_TTL, SharedLimits

from .conftest import FakeClock


def pair(
    broker: Broker, *, rate: float = 0, burst: int = 1, streams: int = 0
) -> tuple[SharedLimits, SharedLimits]:
    return (
        SharedLimits(broker, "proc-a", rate, burst, streams),
        SharedLimits(broker, "proc-b", rate, burst, streams),
    )


async def test_stream_cap_holds_across_processes(broker: Broker) -> None:
    a, b = pair(broker, streams=3)
    leases = [await a.open_stream("alice"), await a.open_stream("alice"), await b.open_stream("alice")]
    for limits in (a, b):
        with pytest.raises(HubError) as refused:
            await limits.open_stream("alice")
        assert refused.value.code.name == "RESOURCE_EXHAUSTED"
        assert refused.value.retry_after is not None
    await b.open_stream("bob")  # another user has their own slots
    first = leases[0]
    assert first is not None
    a.close_stream(first)
    await a.settle()
    assert await b.open_stream("alice") is not None  # the slot freed on A is usable on B
    assert a.open_streams() == 1 and b.open_streams() == 3


async def test_racing_for_the_last_slot_never_admits_two(broker: Broker) -> None:
    for round_ in range(20):
        a, b = pair(broker, streams=1)
        user = f"racer{round_}"
        results = await asyncio.gather(a.open_stream(user), b.open_stream(user), return_exceptions=True)
        admitted = [r for r in results if isinstance(r, str)]
        assert len(admitted) <= 1, results
        assert all(isinstance(r, (str, HubError)) for r in results), results


async def test_a_crashed_process_slots_expire(broker: Broker, clock: FakeClock) -> None:
    a, b = pair(broker, streams=1)
    await a.open_stream("carol")  # A dies without closing: its lease is not refreshed
    with pytest.raises(HubError):
        await b.open_stream("carol")
    clock.advance(LEASE_TTL + 1)
    assert await b.open_stream("carol") is not None


async def test_rate_bucket_is_shared_across_processes(broker: Broker, clock: FakeClock) -> None:
    a, b = pair(broker, rate=10, burst=20)
    admitted = 0
    for i in range(40):
        try:
            await (a if i % 2 else b).acquire("dave")
            admitted += 1
        except HubError as err:
            assert err.code.name == "RESOURCE_EXHAUSTED" and err.retry_after is not None
    assert admitted == 20  # one burst between both processes, not one each
    clock.advance(1.0)
    refilled = 0
    for _ in range(30):
        try:
            await a.acquire("dave")
            refilled += 1
        except HubError:
            break
    assert refilled == 10


async def test_rate_borrows_in_chunks(broker: Broker) -> None:
    a, _ = pair(broker, rate=5000, burst=10000)
    assert a.chunk == 250
    calls = 0
    real_borrow = a._borrow

    async def counting_borrow(user: str, want: int) -> tuple[int, float]:
        nonlocal calls
        calls += 1
        return await real_borrow(user, want)

    a._borrow = counting_borrow  # type: ignore[method-assign]
    for _ in range(1000):
        await a.acquire("erin")
    assert calls == 4  # one broker round trip per 250 calls, not per call


async def test_one_step_and_generic_buckets_share_one_bucket(broker: Broker, clock: FakeClock) -> None:
    """Redis takes tokens in one script; a process updating the same bucket the generic way
    (kv_get + compare-and-set) shares it: one burst between both, one refill."""
    a, b = pair(broker, rate=10, burst=20)
    assert (a._buckets is not None) == (broker.engine == "redis")
    b._buckets = None
    admitted = 0
    for i in range(40):
        with contextlib.suppress(HubError):
            await (a if i % 2 else b).acquire("frank")
            admitted += 1
    assert admitted == 20
    clock.advance(0.5)
    refilled = 0
    for i in range(20):
        with contextlib.suppress(HubError):
            await (b if i % 2 else a).acquire("frank")
            refilled += 1
    assert refilled == 5


async def test_any_user_id_works_spaces_unicode_and_long(broker: Broker) -> None:
    a, b = pair(broker, rate=10, burst=5, streams=1)
    for user in ("alice smith", "✓ " * 3000, "tab\there"):
        assert await a.open_stream(user) is not None
        with pytest.raises(HubError):
            await b.open_stream(user)
        await b.acquire(user)
