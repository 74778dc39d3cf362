"""Text service: fix text as it is typed (wrong keyboard layout Hebrew/English, cleaning).

Everything here except `service.py` is plain Python, testable without a server.
"""
