"""The broker: shared state for services (SQLite, memory and Redis engines). See base.py."""

from .base import (
    Broker,
    BrokerError,
    BrokerUnavailable,
    HistoryResult,
    PresenceEntry,
    Publication,
    StreamPosition,
    Subscription,
    SubscriptionClosed,
)

__all__ = [
    "Broker",
    "BrokerError",
    "BrokerUnavailable",
    "HistoryResult",
    "PresenceEntry",
    "Publication",
    "StreamPosition",
    "Subscription",
    "SubscriptionClosed",
]
