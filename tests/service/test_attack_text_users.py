"""Attacks by one user on the text service's shared resources: documents held open across many
Session streams (each stream caps its own at 16, but a user may open 1,000 streams)."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import duration_pb2

from realtime.v1 import text_pb2, text_pb2_grpc

from .text_support import Session, text_hub

PER_USER = 32  # TextConfig.max_documents_per_user default
PER_STREAM = 16


async def test_one_user_cannot_hold_more_documents_across_streams(tmp_path: Path) -> None:
    no_wait = duration_pb2.Duration()
    async with text_hub(tmp_path) as hub, hub.client("mallory") as mallory, hub.client("bob") as bob:
        streams = [Session(mallory.stub(text_pb2_grpc.TextServiceStub).Session()) for _ in range(4)]
        kinds: list[str] = []
        refused: list[text_pb2.SessionResponse] = []
        for n, s in enumerate(streams):
            for i in range(PER_STREAM):
                await s.send(id=f"o{i}", open=text_pb2.OpenCommand(document_id=f"d{i}", debounce=no_wait))
                event = await s.next()
                kinds.append(event.WhichOneof("event"))
                if event.WhichOneof("event") == "error":
                    refused.append(event)
            assert n < 2 or kinds[-1] == "error"  # streams 3 and 4: the user's budget is spent
        assert kinds.count("opened") == PER_USER, kinds
        assert {(e.error.code, e.error.reason) for e in refused} == {(8, "TOO_MANY_DOCUMENTS")}
        # Another user is unaffected.
        other = Session(bob.stub(text_pb2_grpc.TextServiceStub).Session())
        await other.send(id="o", open=text_pb2.OpenCommand(document_id="d", debounce=no_wait))
        assert (await other.next()).WhichOneof("event") == "opened"
        # Closing a document gives its place back to the same user, on another stream.
        await streams[0].send(id="c", close=text_pb2.CloseCommand(document_id="d0"))
        assert (await streams[0].next()).WhichOneof("event") == "closed"
        await streams[3].send(id="again", open=text_pb2.OpenCommand(document_id="x", debounce=no_wait))
        assert (await streams[3].next()).WhichOneof("event") == "opened"
        await streams[3].send(id="more", open=text_pb2.OpenCommand(document_id="y", debounce=no_wait))
        assert (await streams[3].next()).error.reason == "TOO_MANY_DOCUMENTS"
        for s in [*streams, other]:
            s.call.cancel()
