"""Property: however publications and (re)subscriptions interleave, each offset is sent once."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime.server.broker.base import StreamPosition
from realtime.server.broker.memory import MemoryBroker
from realtime.server.notifications.channels import ChannelConfig
from realtime.server.notifications.policy import ChannelPolicy
from realtime.server.notifications.presence import PresenceKeeper
from realtime.server.notifications.session import NotificationSession, SubscriptionCounter
from realtime.server.platform.auth import Principal

# Steps: ("pub", n) publishes n; ("drain", n) sends up to n queued live publications;
# ("resub", k) re-subscribes with since = k publications before the last one sent (0 = none sent).
steps = st.lists(
    st.one_of(
        st.tuples(st.just("pub"), st.integers(1, 5)),
        st.tuples(st.just("drain"), st.integers(1, 8)),
        st.tuples(st.just("resub"), st.integers(0, 6)),
    ),
    max_size=30,
)


async def run(script: list[tuple[str, int]]) -> tuple[list[int], int]:
    broker = MemoryBroker()
    session = NotificationSession(
        broker,
        ChannelPolicy(broker),
        Principal("alice", frozenset(), 0.0),
        "c1",
        config=ChannelConfig(),
        counter=SubscriptionCounter(),
        presence=PresenceKeeper(broker),
        max_queue_bytes=1 << 20,
    )
    pub, _ = await broker.publish("topic:p", b"")
    epoch = pub.epoch
    sent: list[int] = []
    done = await session.subscribe("topic:p", StreamPosition(epoch, 0))
    sent += [p.offset for p in done.replay]
    for kind, n in script:
        if kind == "pub":
            for _ in range(n):
                await broker.publish("topic:p", b"")
        elif kind == "drain":
            for _ in range(n):
                live = session.take()
                if live is None:
                    break
                sent.append(live.offset)
        else:
            since = max(0, (sent[-1] if sent else 0) - n)
            done = await session.subscribe("topic:p", StreamPosition(epoch, since))
            assert done.recovered
            sent += [p.offset for p in done.replay]
    while (live := session.take()) is not None:
        sent.append(live.offset)
    top = (await broker.history("topic:p", limit=0)).position.offset
    await session.close()
    return sent, top


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_every_offset_exactly_once(script: list[tuple[str, int]]) -> None:
    sent, top = asyncio.run(run(script))
    assert sorted(sent) == list(range(1, top + 1)), sent  # nothing lost, nothing twice
    resubscribed = any(kind == "resub" for kind, _ in script)
    if not resubscribed:
        assert sent == sorted(sent)  # and in order unless a resume filled a gap
