"""Resumable, chunked uploads (ByteStream-style) and chunked reads of large results."""
