"""Notifications: channels, history, recovery, read state and presence over the broker."""
