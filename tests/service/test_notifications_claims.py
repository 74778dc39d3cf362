"""Channel claims in tokens: `channels` / `publish_channels` grant beyond the built-in policy."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import grpc
import jwt
import pytest

from realtime.client import Client
from realtime.server.platform.auth import mint_token

from .notify_support import error_info, notify_hub, open_stream, pb, stub

CLI = str(Path(sys.executable).parent / "realtime")


async def test_token_channel_claims_grant_read_and_publish(tmp_path: Path) -> None:
    async with notify_hub(tmp_path) as hub:
        token = mint_token(
            hub.secret, "alice", channels=["doc:42", "team-7:*"], publish_channels=["team-7:*"]
        )
        async with Client(hub.target, token=token) as alice, open_stream(alice) as s:
            for channel in ("doc:42", "team-7:general", "team-7:a:b"):
                assert (await s.subscribe(channel)).channel == channel
            for channel in ("doc:43", "doc:420", "team-70:x", "xteam-7:x"):
                cid = await s.send(subscribe=pb.SubscribeCommand(channel=channel))
                err = await s.expect("error")
                assert err.command_id == cid and err.error.reason == "PERMISSION_DENIED", channel
            reply = await stub(alice).Publish(
                pb.PublishRequest(channel="team-7:general", title="hi"), timeout=5
            )
            [n] = await s.notifications(1)
            assert n.id == reply.id
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub(alice).Publish(pb.PublishRequest(channel="doc:42", title="no"), timeout=5)
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # Without the claims the same user is refused.
        async with hub.client("alice") as plain, open_stream(plain) as s:
            await s.send(subscribe=pb.SubscribeCommand(channel="doc:42"))
            assert (await s.expect("error")).error.reason == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    "claims",
    [{"channels": "doc:42"}, {"channels": [42]}, {"channels": [""]}, {"publish_channels": ["x"] * 101}],
)
async def test_malformed_channel_claims_are_refused(tmp_path: Path, claims: dict[str, object]) -> None:
    async with notify_hub(tmp_path) as hub:
        token = jwt.encode({"sub": "alice", "exp": 4102444800, **claims}, hub.secret, algorithm="HS256")
        async with Client(hub.target, token=token) as alice:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub(alice).ListNotifications(pb.ListNotificationsRequest(), timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error_info(caught.value).reason == "AUTHENTICATION_FAILED"


async def test_cli_mints_a_token_with_channel_claims(tmp_path: Path) -> None:
    async with notify_hub(tmp_path) as hub:
        proc = await asyncio.create_subprocess_exec(
            CLI,
            "--jwt-secret-file",
            str(tmp_path / "jwt-secret"),
            "token",
            "--sub",
            "alice",
            "--channel",
            "doc:*",
            "--publish-channel",
            "doc:7",
            "--json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        minted = json.loads(out)
        assert minted["channels"] == ["doc:*"] and minted["publish_channels"] == ["doc:7"]
        async with Client(hub.target, token=minted["token"]) as alice:
            await stub(alice).Publish(pb.PublishRequest(channel="doc:7", title="mine"), timeout=5)
            page = await stub(alice).ListNotifications(
                pb.ListNotificationsRequest(channel="doc:7"), timeout=5
            )
            assert [n.title for n in page.notifications] == ["mine"]
