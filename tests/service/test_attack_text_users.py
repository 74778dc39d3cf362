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


async def test_one_users_burst_of_big_fixes_does_not_stop_another_users(tmp_path: Path) -> None:
    """Mallory sends 20 FixText calls of 100,000 characters at once into the 2-thread pool; past
    4 in flight she is told to retry later (RetryInfo), and Bob's FixText is served meanwhile."""
    import asyncio

    import grpc
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    text = ("the quick brown fox jumps over the lazy dog " * 2500)[:99_990] + " akuo"
    async with text_hub(tmp_path) as hub, hub.client("mallory") as mallory, hub.client("bob") as bob:
        evil = mallory.stub(text_pb2_grpc.TextServiceStub)
        burst = [
            asyncio.ensure_future(evil.FixText(text_pb2.FixTextRequest(text=text), timeout=120))
            for _ in range(20)
        ]
        answer = await bob.stub(text_pb2_grpc.TextServiceStub).FixText(
            text_pb2.FixTextRequest(text=text), timeout=120
        )
        assert answer.fix.text.endswith(" שלום") and len(answer.fix.text) == len(text)
        outcomes = await asyncio.gather(*burst, return_exceptions=True)
        served = [o for o in outcomes if isinstance(o, text_pb2.FixTextResponse)]
        refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
        assert served and refused and len(served) + len(refused) == 20, outcomes
        for err in refused:
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            status = rpc_status.from_call(err)
            assert status is not None
            kinds = {d.type_url.rsplit(".", 1)[-1] for d in status.details}
            assert {"ErrorInfo", "RetryInfo", "QuotaFailure"} <= kinds, kinds
            info = error_details_pb2.ErrorInfo()
            next(d for d in status.details if d.Is(info.DESCRIPTOR)).Unpack(info)
            assert info.reason == "TOO_MANY_IN_FLIGHT"
