"""Attack: one user opens many notification streams and reads none of them. Each stream's queue is
bounded, but streams x queue_bytes is not a bound (a user may open 1,000 streams); the per-user
budget is. Another user's stream on the same channel is unaffected."""

from __future__ import annotations

from realtime.server.broker.base import ByteBudget
from realtime.server.broker.memory import MemoryBroker
from realtime.server.notifications.channels import ChannelConfig
from realtime.server.notifications.policy import ChannelPolicy
from realtime.server.notifications.presence import PresenceKeeper
from realtime.server.notifications.session import (
    NotificationSession,
    QueueBudgets,
    SubscriptionCounter,
)
from realtime.server.platform.auth import Principal
from realtime.server.platform.errors import HubError

STREAM_BYTES = 64 * 1024
USER_BYTES = 256 * 1024
STREAMS = 40  # 40 x 64 KiB = 2.5 MiB if only each stream were bounded
PAYLOAD = b"x" * 4000


async def test_one_users_stalled_streams_stay_within_the_user_budget() -> None:
    broker = MemoryBroker()
    await broker.start()
    budgets = QueueBudgets(USER_BYTES)
    counter = SubscriptionCounter()
    presence = PresenceKeeper(broker)

    def session(user: str, n: int) -> NotificationSession:
        return NotificationSession(
            broker,
            ChannelPolicy(broker),
            Principal(user, frozenset(), 0.0),
            f"{user}-{n}",
            config=ChannelConfig(),
            counter=counter,
            presence=presence,
            max_queue_bytes=STREAM_BYTES,
            budgets=budgets,
        )

    mallory = [session("mallory", i) for i in range(STREAMS)]
    alice = session("alice", 0)
    for s in [*mallory, alice]:
        await s.subscribe("topic:flood", None)
    published = 0
    for _ in range(15):  # 15 x ~4 KiB: fits one stream's queue, not 40 streams within the budget
        await broker.publish("topic:flood", PAYLOAD)
        published += 1
        assert budgets.used("mallory") <= USER_BYTES
    assert budgets.used("mallory") <= USER_BYTES
    cut = 0
    for s in mallory:
        try:
            while s.take() is not None:
                pass
        except HubError as err:
            assert err.reason == "SLOW_CONSUMER"
            cut += 1
    assert cut > 0  # without the budget all 40 queues (2.3 MiB) would be held
    # Alice, on the same channel, got every publication.
    got = []
    while (pub := alice.take()) is not None:
        got.append(pub.offset)
    assert got == list(range(1, published + 1))
    for s in [*mallory, alice]:
        await s.close()
    assert budgets.used("mallory") == 0 and budgets.used("alice") == 0
    assert budgets._users == {}  # forgotten with the user's last stream
    await broker.close()


async def test_closing_a_stream_returns_its_queued_bytes() -> None:
    broker = MemoryBroker()
    await broker.start()
    budget = ByteBudget(1 << 20)
    sub = broker.subscribe(budget=budget)
    await sub.add("c")
    await broker.publish("c", b"y" * 1000)
    assert budget.used > 1000
    assert sub.get_nowait() is not None
    assert budget.used == 0
    await broker.publish("c", b"y" * 1000)
    await sub.close()
    sub.discard()
    assert budget.used == 0
    await broker.close()
