"""Text service: fix text as it is typed (wrong keyboard layout Hebrew/English, cleaning).

Everything here except `service.py` (gRPC) and `convert.py` (the contract's messages) is plain
Python, testable without a server.
"""
