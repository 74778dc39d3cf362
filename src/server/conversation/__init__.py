"""Conversation service: call audio in; speech detection, transcripts and spoken replies out.

Plain Python except `service.py`. Audio flows as typed frames (`frames.py`) through small
stages (`pipeline.py`); system frames such as interruptions overtake queued data.
"""
