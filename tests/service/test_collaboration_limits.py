"""The configured insert limit is the one in force (it used to be a constant in service.py)."""

from __future__ import annotations

from pathlib import Path

from realtime.common.collaboration.ops import CreateElement, EditText
from realtime.server.testing import running_hub
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc

from .collab_peer import Peer

SERVICES = ("realtime.server.diagnostics.service", "realtime.server.collaboration.service")


async def test_max_insert_length_setting_is_enforced(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES, extra={"collab_max_insert_length": 5}) as hub:
        async with hub.client("alice") as ca, Peer(ca, "a") as alice:
            await ca.stub(collaboration_pb2_grpc.CollaborationServiceStub).CreateDocument(
                pb.CreateDocumentRequest(document_id="deck"), timeout=5
            )
            await alice.join("deck")
            await alice.answer(alice.submit(CreateElement("t", "", "text", "V", {"body": ""})))
            ok = await alice.answer(alice.submit(EditText("t", "body", ("12345",))))
            assert ok.WhichOneof("event") == "applied"
            refused = await alice.answer(alice.submit(EditText("t", "body", ("123456",))))
            assert refused.WhichOneof("event") == "rejected"
            assert refused.rejected.operations[0].reason == "INVALID_ARGUMENT"
            assert "at most 5" in refused.rejected.operations[0].message
