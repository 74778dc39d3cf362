"""Collaboration: shared documents edited live through a server-authoritative sequencer."""
