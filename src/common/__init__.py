"""Code both the hub (`realtime.server`) and its clients (`realtime.client`) use.

The client never imports server modules; what both need lives here (mapped from src/common
by setup.py). Keep it small and free of grpc and server imports.
"""
