"""Python client for the realtime hub.

from realtime.client import Client
async with Client("127.0.0.1:50051", token=my_token) as hub:
    who = await hub.diagnostics.GetIdentity(GetIdentityRequest())
"""

from .backoff import Backoff, reconnecting
from .client import Client, TokenProvider
from .notifications import NotificationSubscription, Reconnecting
from .sync import SyncClient

__all__ = [
    "Backoff",
    "Client",
    "NotificationSubscription",
    "Reconnecting",
    "SyncClient",
    "TokenProvider",
    "reconnecting",
]
