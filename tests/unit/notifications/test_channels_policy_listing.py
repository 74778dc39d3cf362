"""Pure notification logic: channel names, ids, the policy, content checks, paging."""

from __future__ import annotations

import pytest

from realtime.server.broker.memory import MemoryBroker
from realtime.server.notifications.channels import (
    ChannelConfig,
    namespace_of,
    notification_id,
    parse_notification_id,
    validate_channel,
)
from realtime.server.notifications.listing import list_page
from realtime.server.notifications.model import Content, from_publication, validate_content
from realtime.server.notifications.policy import ChannelPolicy, grant
from realtime.server.notifications.session import SubscriptionCounter
from realtime.server.platform.auth import Principal
from realtime.server.platform.errors import Code, HubError


def who(sub: str, *roles: str) -> Principal:
    return Principal(sub, frozenset(roles), 0.0)


@pytest.mark.parametrize("channel", ["general", "user:alice", "topic:a:b", "doc:42", "system:stats"])
def test_good_channels(channel: str) -> None:
    assert validate_channel(channel) == channel


@pytest.mark.parametrize(
    "channel",
    ["", "generalx", "user:", ":x", "Topic:x", "topic:a b", "a#b:c", "x" * 256, "9ns:x", "topic:\x00"],
)
def test_bad_channels(channel: str) -> None:
    with pytest.raises(HubError) as info:
        validate_channel(channel)
    assert info.value.code == Code.INVALID_ARGUMENT and info.value.violations


def test_ids_round_trip() -> None:
    nid = notification_id("topic:a:b", "e1f2", 7)
    assert parse_notification_id(nid) == ("topic:a:b", "e1f2", 7)
    for bad in ["", "topic:x", "topic:x#", "topic:x#e:", "topic:x#e:0", "topic:x#:3", "bad chan#e:1"]:
        with pytest.raises(HubError):
            parse_notification_id(bad)


def test_namespace_config() -> None:
    cfg = ChannelConfig()
    assert namespace_of("general") == "general" and namespace_of("doc:1:2") == "doc"
    assert not cfg.for_channel("user:x").presence and cfg.for_channel("doc:1").presence
    assert cfg.for_channel("topic:x").history_size == 1000


async def test_policy_matrix_and_grants() -> None:
    broker = MemoryBroker()
    policy = ChannelPolicy(broker)
    alice, admin = who("alice"), who("root", "admin")
    assert await policy.may_read(alice, "general") and not await policy.may_publish(alice, "general")
    assert await policy.may_read(alice, "user:alice") and not await policy.may_read(alice, "user:bob")
    assert not await policy.may_read(alice, "system:stats") and await policy.may_read(admin, "system:stats")
    assert await policy.may_publish(alice, "topic:x")
    assert not await policy.may_read(alice, "doc:1")
    await grant(broker, "doc:1", "alice", "rw")
    assert await policy.may_read(alice, "doc:1") and await policy.may_publish(alice, "doc:1")
    assert not await policy.may_read(who("bob"), "doc:1")
    with pytest.raises(HubError) as info:
        await policy.check_read(alice, "user:bob")
    assert info.value.code == Code.PERMISSION_DENIED and info.value.metadata["channel"] == "user:bob"


def test_content_checks() -> None:
    validate_content(Content(title="t"), 1024 * 1024)
    with pytest.raises(HubError) as info:
        validate_content(Content(title="t", data=b"x" * 20000, content_type="x/y"), 32 * 1024)
    assert info.value.reason == "MESSAGE_TOO_LARGE"
    with pytest.raises(HubError):
        validate_content(Content(), 1024 * 1024)
    with pytest.raises(HubError):
        validate_content(Content(data=b"x"), 1024 * 1024)


async def test_content_rides_in_a_publication() -> None:
    broker = MemoryBroker()
    content = Content(title="T", body="B", data=b"\x00", content_type="a/b", level=3, publisher="p")
    pub, _ = await broker.publish("topic:x", content.data, meta=content.meta())
    n = from_publication(pub)
    assert n.content == content and n.id == f"topic:x#{pub.epoch}:1"


def test_subscription_counter_counts_distinct_channels() -> None:
    c = SubscriptionCounter(limit=2)
    c.acquire("u", "a")
    c.acquire("u", "a")  # a second stream on the same channel
    c.acquire("u", "b")
    with pytest.raises(HubError) as info:
        c.acquire("u", "c")
    assert info.value.reason == "TOO_MANY_SUBSCRIPTIONS"
    c.release("u", "a")
    with pytest.raises(HubError):
        c.acquire("u", "c")  # a is still held once
    c.release("u", "a")
    c.acquire("u", "c")
    assert c.count("u") == 2


async def test_paging_merges_channels_newest_first() -> None:
    clock_now = [1000.0]
    broker = MemoryBroker(clock=lambda: clock_now[0])
    for i in range(5):
        for channel in ("general", "user:a"):
            clock_now[0] += 1
            await broker.publish(channel, b"", meta={"t": f"{channel}-{i}"})
    seen: list[str] = []
    token = ""
    for _ in range(10):
        page = await list_page(
            broker, "a", ["general", "user:a"], unread_only=False, page_size=3, page_token=token
        )
        seen += [n.content.title for n, _ in page.notifications]
        token = page.next_page_token
        if not token:
            break
    expected = [f"{c}-{i}" for i in range(4, -1, -1) for c in ("user:a", "general")]
    assert seen == expected
    with pytest.raises(HubError):
        await list_page(broker, "a", ["general"], unread_only=False, page_size=3, page_token="@@@")


def test_config_from_environment_and_overrides() -> None:
    from realtime.server.notifications.config import NotificationsConfig

    env = {
        "REALTIME_NOTIFICATIONS_PUBLISH_RATE": "5",
        "REALTIME_NOTIFICATIONS_OPEN_NAMESPACES": "topic, room",
    }
    cfg = NotificationsConfig.load({"queue_bytes": 1000}, env)
    assert (cfg.publish_rate, cfg.open_namespaces, cfg.queue_bytes) == (5.0, ("topic", "room"), 1000)
    with pytest.raises(ValueError):
        NotificationsConfig.load({"nope": 1}, {})
    with pytest.raises(ValueError):
        NotificationsConfig.load(None, {"REALTIME_NOTIFICATIONS_QUEUE_BYTES": "lots"})
