"""TLS and mutual TLS on both ports, with throwaway certificate authorities."""

from __future__ import annotations

import asyncio
import os
import ssl
from pathlib import Path

import aiohttp
import grpc
import pytest

from realtime.client import Client
from realtime.server.testing import TestHub, running_hub
from realtime.v1 import diagnostics_pb2
from tests.service.gateway_wire import DIAG, SERVICES, frame, grpc_web
from tests.service.test_gateway_websocket import ServerFrames, cmd, header_block, open_ws
from tests.service.test_platform_auth import error_info
from tests.tls_certs import CA, Issued

WHO = diagnostics_pb2.GetIdentityRequest()
TLS_SERVICES = ("realtime.server.diagnostics.service", "realtime.server.gateway.service")


def tls_settings(server: Issued, client_ca: CA | None = None, **more: object) -> dict[str, object]:
    values: dict[str, object] = {"tls_cert_file": server.cert_file, "tls_key_file": server.key_file}
    if client_ca is not None:
        values["tls_client_ca_file"] = client_ca.cert_file
    values.update(more)
    return values


async def refused_at_handshake(client: Client) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.diagnostics.GetIdentity(WHO, timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value
    return caught.value


def https_context(ca: CA, client: Issued | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca.cert_file))
    if client is not None:
        context.load_cert_chain(client.cert_file, client.key_file)
    return context


async def test_tls_call_with_the_ca_file(tmp_path: Path) -> None:
    ca = CA(tmp_path)
    async with running_hub(tmp_path, services=TLS_SERVICES, **tls_settings(ca.server())) as hub:
        async with hub.client("alice", ca_file=ca.cert_file) as client:
            who = await client.diagnostics.GetIdentity(WHO, timeout=5)
        assert who.subject == "alice"
        # A plaintext client gets no answer from a TLS port.
        async with hub.client("alice") as plain:
            await refused_at_handshake(plain)


async def test_a_tls_handshake_that_never_finishes_is_closed(tmp_path: Path) -> None:
    """A peer that opens the TLS port and stops mid-handshake loses its socket after
    --handshake-timeout (grpc's default would keep it 120 s); TLS clients still get in."""
    ca = CA(tmp_path)
    settings = tls_settings(ca.server(), handshake_timeout=0.3)
    async with running_hub(tmp_path, services=TLS_SERVICES, **settings) as hub:
        port = int(hub.target.rsplit(":", 1)[1])
        peers = [await asyncio.open_connection("127.0.0.1", port) for _ in range(10)]
        # One sends the first bytes of a ClientHello record and stops.
        peers[0][1].write(bytes.fromhex("160301020001"))
        for reader, _writer in peers:
            async with asyncio.timeout(10):
                try:
                    while await reader.read(4096):
                        pass
                except ConnectionError:
                    pass
        for _, writer in peers:
            writer.close()
        async with hub.client("alice", ca_file=ca.cert_file) as client:
            assert (await client.diagnostics.GetIdentity(WHO, timeout=5)).subject == "alice"


async def test_http_port_speaks_tls_and_the_gateway_still_reaches_grpc(tmp_path: Path) -> None:
    ca = CA(tmp_path)
    async with running_hub(tmp_path, services=SERVICES, **tls_settings(ca.server())) as hub:
        url = f"https://127.0.0.1:{hub.hub.http_port}"
        connector = aiohttp.TCPConnector(ssl=https_context(ca))
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(url + "/metrics") as resp:
                assert resp.status == 200
            reply = await grpc_web(
                session, f"{url}{DIAG}/GetIdentity", WHO.SerializeToString(), token=hub.token("bob")
            )
            assert reply.status == 0, reply.message
            who = diagnostics_pb2.GetIdentityResponse.FromString(reply.messages[0])
            assert who.subject == "bob"
        async with aiohttp.ClientSession() as session:  # plaintext HTTP to a TLS port
            with pytest.raises(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{hub.hub.http_port}/metrics") as resp:
                    await resp.read()


async def test_expired_server_certificate_is_refused_by_the_client(tmp_path: Path) -> None:
    ca = CA(tmp_path)
    async with running_hub(tmp_path, services=TLS_SERVICES, **tls_settings(ca.server(expired=True))) as hub:
        async with hub.client("alice", ca_file=ca.cert_file) as client:
            await refused_at_handshake(client)
        connector = aiohttp.TCPConnector(ssl=https_context(ca))
        async with aiohttp.ClientSession(connector=connector) as session:
            with pytest.raises(aiohttp.ClientConnectorCertificateError, match="expired"):
                await session.get(f"https://127.0.0.1:{hub.hub.http_port}/metrics")


async def test_certificate_from_another_ca_is_refused(tmp_path: Path) -> None:
    ca, other = CA(tmp_path, "ca-one"), CA(tmp_path, "ca-two")
    async with running_hub(tmp_path, services=TLS_SERVICES, **tls_settings(ca.server())) as hub:
        async with hub.client("alice", ca_file=other.cert_file) as client:
            await refused_at_handshake(client)


async def test_client_certificate_required_and_missing(tmp_path: Path) -> None:
    ca = CA(tmp_path)
    settings = tls_settings(ca.server(), client_ca=ca)
    async with running_hub(tmp_path, services=SERVICES, **settings) as hub:
        async with hub.client("alice", ca_file=ca.cert_file) as client:
            await refused_at_handshake(client)
        stranger = CA(tmp_path, "stranger-ca").issue("intruder", client=True)
        async with hub.client(
            "alice", ca_file=ca.cert_file, cert_file=stranger.cert_file, key_file=stranger.key_file
        ) as client:
            await refused_at_handshake(client)
        ok = ca.issue("worker", client=True)
        async with hub.client(
            "alice", ca_file=ca.cert_file, cert_file=ok.cert_file, key_file=ok.key_file
        ) as c:
            assert (await c.diagnostics.GetIdentity(WHO, timeout=5)).subject == "alice"
        url = f"https://127.0.0.1:{hub.hub.http_port}/metrics"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=https_context(ca))) as session:
            with pytest.raises(aiohttp.ClientError):
                async with session.get(url) as resp:
                    await resp.read()
        connector = aiohttp.TCPConnector(ssl=https_context(ca, ok))
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(url) as resp:
                assert resp.status == 200
            # The gateway's own link to gRPC needs no client certificate (a private unix socket).
            gw = f"https://127.0.0.1:{hub.hub.http_port}{DIAG}/GetIdentity"
            reply = await grpc_web(session, gw, WHO.SerializeToString(), token=hub.token("carol"))
            assert reply.status == 0, reply.message


async def test_mutual_tls_subject_acts_as_a_mapped_user(tmp_path: Path) -> None:
    ca = CA(tmp_path)
    settings = tls_settings(
        ca.server(), client_ca=ca, tls_client_subjects="billing.internal=svc-billing:admin+ops"
    )
    billing = ca.issue("billing-cn", dns=("billing.internal",), client=True)
    other = ca.issue("reporter.internal", client=True)
    async with running_hub(tmp_path, services=TLS_SERVICES, **settings) as hub:
        tls = {"ca_file": ca.cert_file, "cert_file": billing.cert_file, "key_file": billing.key_file}
        async with hub.client(None, **tls) as client:  # no token: the certificate's SAN decides
            who = await client.diagnostics.GetIdentity(WHO, timeout=5)
        assert (who.subject, list(who.roles), who.issuer) == ("svc-billing", ["admin", "ops"], "mtls")
        assert who.expires_at.seconds > 0  # the certificate's notAfter
        async with hub.client("alice", **tls) as client:  # a token, when sent, decides
            assert (await client.diagnostics.GetIdentity(WHO, timeout=5)).subject == "alice"
        tls_other = {"ca_file": ca.cert_file, "cert_file": other.cert_file, "key_file": other.key_file}
        async with hub.client(None, **tls_other) as client:  # signed by the CA but not mapped
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await client.diagnostics.GetIdentity(WHO, timeout=5)
        err = caught.value
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "reporter.internal" in (err.details() or "")
        assert error_info(err).reason == "AUTHENTICATION_FAILED"


async def echo_once(stream: grpc.aio.StreamStreamCall, command_id: str) -> None:
    await stream.write(
        diagnostics_pb2.EchoStreamRequest(id=command_id, echo=diagnostics_pb2.EchoCommand(payload=b"x"))
    )
    reply = await asyncio.wait_for(stream.read(), 5)
    assert reply.command_id == command_id


async def test_reload_keeps_open_streams_and_serves_the_new_certificate(tmp_path: Path) -> None:
    old_ca, new_ca = CA(tmp_path, "old-ca"), CA(tmp_path, "new-ca")
    served = old_ca.server(file_stem="served")
    # Polling off: this test reloads by hand (as SIGHUP does); test_reload_on_file_change polls.
    async with running_hub(
        tmp_path, services=TLS_SERVICES, **tls_settings(served, tls_reload_interval=0)
    ) as hub:
        assert hub.hub.tls is not None
        async with hub.client("alice", ca_file=old_ca.cert_file) as old_client:
            stream = old_client.diagnostics.EchoStream()
            await echo_once(stream, "before")
            new_ca.issue("localhost", dns=("localhost",), ips=("127.0.0.1",), file_stem="served")
            assert hub.hub.tls.reload()
            assert not hub.hub.tls.reload()  # nothing changed since
            await echo_once(stream, "after")  # the open stream lives on
            async with hub.client("alice", ca_file=new_ca.cert_file) as new_client:
                assert (await new_client.diagnostics.GetIdentity(WHO, timeout=5)).subject == "alice"
            async with hub.client("alice", ca_file=old_ca.cert_file) as stale:
                await refused_at_handshake(stale)
            connector = aiohttp.TCPConnector(ssl=https_context(new_ca))
            async with aiohttp.ClientSession(connector=connector) as session:
                async with session.get(f"https://127.0.0.1:{hub.hub.http_port}/metrics") as resp:
                    assert resp.status == 200
            await echo_once(stream, "still")
            await stream.done_writing()


async def test_broken_new_files_keep_the_old_certificate(tmp_path: Path) -> None:
    ca = CA(tmp_path)
    served = ca.server(file_stem="served")
    async with running_hub(
        tmp_path, services=TLS_SERVICES, **tls_settings(served, tls_reload_interval=0)
    ) as hub:
        assert hub.hub.tls is not None
        served.key_file.write_bytes(CA(tmp_path, "other").issue("x").key_file.read_bytes())  # key mismatch
        assert not hub.hub.tls.reload()
        served.cert_file.write_text("not a certificate")
        assert not hub.hub.tls.reload()
        async with hub.client("alice", ca_file=ca.cert_file) as client:
            assert (await client.diagnostics.GetIdentity(WHO, timeout=5)).subject == "alice"


async def test_reload_on_file_change(tmp_path: Path) -> None:
    old_ca, new_ca = CA(tmp_path, "old-ca"), CA(tmp_path, "new-ca")
    served = old_ca.server(file_stem="served")
    async with running_hub(
        tmp_path, services=TLS_SERVICES, **tls_settings(served, tls_reload_interval=0.05)
    ) as hub:
        assert hub.hub.tls is not None
        reloaded = asyncio.Event()
        hub.hub.tls.listeners.append(reloaded.set)
        fresh = new_ca.issue("localhost", dns=("localhost",), ips=("127.0.0.1",), file_stem="fresh")
        # Replace both files atomically, as certificate managers do (rename over the old ones).
        os.replace(fresh.key_file, served.key_file)
        os.replace(fresh.cert_file, served.cert_file)
        await asyncio.wait_for(reloaded.wait(), 10)
        async with hub.client("alice", ca_file=new_ca.cert_file) as client:
            assert (await client.diagnostics.GetIdentity(WHO, timeout=5)).subject == "alice"


async def test_startup_errors_name_the_file(tmp_path: Path) -> None:
    from realtime.server.app import StartupError

    ca = CA(tmp_path)
    good = ca.server()
    with pytest.raises(StartupError, match="tls-key-file"):
        async with running_hub(
            tmp_path,
            services=TLS_SERVICES,
            tls_cert_file=good.cert_file,
            tls_key_file=tmp_path / "missing.key",
        ):
            pass
    mismatched = ca.issue("other")
    with pytest.raises(StartupError, match="do not form a usable pair"):
        async with running_hub(
            tmp_path, services=TLS_SERVICES, tls_cert_file=good.cert_file, tls_key_file=mismatched.key_file
        ):
            pass


async def test_hub_fixture_is_plaintext(hub: TestHub) -> None:
    assert hub.hub.tls is None


async def test_twenty_reloads_under_an_open_stream(tmp_path: Path) -> None:
    """Alternate two CAs' certificates twenty times while one stream stays open: each reload
    serves the new certificate to the next connection, and the stream answers throughout."""
    cas = [CA(tmp_path, "ca-a"), CA(tmp_path, "ca-b")]
    served = cas[0].server(file_stem="served")
    async with running_hub(
        tmp_path, services=TLS_SERVICES, **tls_settings(served, tls_reload_interval=0)
    ) as hub:
        assert hub.hub.tls is not None
        async with hub.client("alice", ca_file=cas[0].cert_file) as first:
            stream = first.diagnostics.EchoStream()
            await echo_once(stream, "open")
            for i in range(1, 21):
                ca = cas[i % 2]
                ca.issue("localhost", dns=("localhost",), ips=("127.0.0.1",), file_stem="served")
                assert hub.hub.tls.reload()
                await echo_once(stream, f"reload-{i}")
                async with hub.client("alice", ca_file=ca.cert_file) as fresh:
                    assert (await fresh.diagnostics.GetIdentity(WHO, timeout=5)).subject == "alice"
            await stream.done_writing()
        assert hub.hub.tls.reloads == 20


def test_sync_client_with_a_ca_file(tmp_path: Path) -> None:
    from realtime.client import SyncClient

    async def main() -> None:
        ca = CA(tmp_path)
        async with running_hub(tmp_path, services=TLS_SERVICES, **tls_settings(ca.server())) as hub:
            client = await asyncio.to_thread(
                SyncClient, hub.target, token=hub.token("dora"), ca_file=ca.cert_file
            )
            try:
                who = await asyncio.to_thread(
                    client.run, lambda c: c.diagnostics.GetIdentity(WHO, timeout=5), 10
                )
            finally:
                await asyncio.to_thread(client.close)
            assert who.subject == "dora"

    asyncio.run(main())


def test_client_refuses_half_a_key_pair(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="together"):
        Client("127.0.0.1:1", cert_file=tmp_path / "c.pem")


async def test_websocket_bridge_over_tls_survives_a_reload(tmp_path: Path) -> None:

    old_ca, new_ca = CA(tmp_path, "old-ca"), CA(tmp_path, "new-ca")
    served = old_ca.server(file_stem="served")
    settings = tls_settings(served, tls_reload_interval=0)
    async with running_hub(tmp_path, services=SERVICES, **settings) as hub:
        assert hub.hub.tls is not None
        url = f"wss://127.0.0.1:{hub.hub.http_port}{DIAG}/EchoStream"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=https_context(old_ca))) as s:
            ws = await open_ws(s, url)
            await ws.send_bytes(header_block(hub.token()))
            out = ServerFrames(ws)
            await ws.send_bytes(b"\x00" + frame(cmd(1)))
            await out.headers()
            assert (await out.response()).command_id == "c1"
            new_ca.issue("localhost", dns=("localhost",), ips=("127.0.0.1",), file_stem="served")
            assert hub.hub.tls.reload()
            await ws.send_bytes(b"\x00" + frame(cmd(2)))  # the open WebSocket lives on
            assert (await out.response()).command_id == "c2"
            await ws.send_bytes(b"\x01")
            assert (await out.trailers())["grpc-status"] == "0"
            await ws.close()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=https_context(old_ca))) as s:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await open_ws(s, url)  # new connections get the new certificate
