"""The broker: shared state for services (SQLite, memory and Redis engines). See base.py."""

from .base import Broker
from .model import (
    BrokerError,
    BrokerUnavailable,
    HistoryResult,
    PresenceEntry,
    Publication,
    StreamPosition,
    SubscriptionClosed,
)
from .subscription import Subscription

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
