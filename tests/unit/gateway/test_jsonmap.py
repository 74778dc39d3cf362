"""SSE JSON mapping: event ids from a StreamPosition, resume into the request's position field."""

from __future__ import annotations

import json

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from realtime.server.gateway.jsonmap import JsonCodecs, MethodCodec, Position, find_position, status_json
from realtime.server.platform.errors import Code, HubError
from realtime.v1 import common_pb2


def _types() -> tuple[type, type]:
    """A request with a `since` StreamPosition and an event with a nested one (a private pool)."""
    pool = descriptor_pool.DescriptorPool()
    common = descriptor_pb2.FileDescriptorProto()
    common_pb2.DESCRIPTOR.CopyToProto(common)
    for dep in common_pb2.DESCRIPTOR.dependencies:
        proto = descriptor_pb2.FileDescriptorProto()
        dep.CopyToProto(proto)
        pool.Add(proto)
    pool.Add(common)
    f = descriptor_pb2.FileDescriptorProto(name="t.proto", package="t", dependency=[common.name])
    req = f.message_type.add(name="Sub")
    req.field.add(name="channel", number=1, type=9, label=1)
    req.field.add(name="since", number=2, type=11, label=1, type_name=".realtime.v1.StreamPosition")
    inner = f.message_type.add(name="Pub")
    inner.field.add(name="position", number=1, type=11, label=1, type_name=".realtime.v1.StreamPosition")
    inner.field.add(name="text", number=2, type=9, label=1)
    ev = f.message_type.add(name="Ev")
    ev.field.add(name="publication", number=1, type=11, label=1, type_name=".t.Pub")
    fd = pool.Add(f)
    return (
        message_factory.GetMessageClass(fd.message_types_by_name["Sub"]),
        message_factory.GetMessageClass(fd.message_types_by_name["Ev"]),
    )


def test_event_ids_and_resume() -> None:
    sub, ev = _types()
    codec = MethodCodec(sub, ev)
    assert codec.resume_field == "since"
    msg = ev()
    msg.publication.position.epoch = "e1"
    msg.publication.position.offset = 41
    msg.publication.text = "hello"
    text, event_id = codec.decode_response(msg.SerializeToString())
    assert event_id == "e1:41" and '"text":"hello"' in text
    request = sub.FromString(codec.encode_request('{"channel": "news"}', Position.parse(event_id)))
    assert (request.channel, request.since.epoch, request.since.offset) == ("news", "e1", 41)
    assert find_position(ev()) is None


def test_a_batch_event_id_is_its_last_position() -> None:
    from realtime.v1 import common_pb2, notifications_pb2

    codec = JsonCodecs().for_method("/realtime.v1.NotificationService/Listen")
    batch = notifications_pb2.NotificationBatch(
        notifications=[
            notifications_pb2.Notification(
                title=f"n{i}", position=common_pb2.StreamPosition(epoch="e", offset=i)
            )
            for i in (7, 8, 9)
        ]
    )
    text, event_id = codec.decode_response(notifications_pb2.ListenResponse(batch=batch).SerializeToString())
    assert event_id == "e:9"
    assert [n["title"] for n in json.loads(text)["batch"]["notifications"]] == ["n7", "n8", "n9"]
    request = notifications_pb2.ListenRequest.FromString(
        codec.encode_request(
            '{"channels": [{"channel": "news"}], "acceptBatches": true}', Position.parse(event_id)
        )
    )
    assert request.accept_batches and (request.since.epoch, request.since.offset) == ("e", 9)


def test_bad_inputs() -> None:
    sub, ev = _types()
    codec = MethodCodec(sub, ev)
    with pytest.raises(HubError) as caught:
        codec.encode_request('{"nope": 1}')
    assert caught.value.code is Code.INVALID_ARGUMENT
    with pytest.raises(HubError):
        Position.parse("no-offset")
    with pytest.raises(HubError) as caught:
        JsonCodecs().for_method("/no.Such/Method")
    assert caught.value.code is Code.UNIMPLEMENTED


def test_status_json_without_details() -> None:
    assert status_json(5, "gone", None) == '{"code":5,"status":"NOT_FOUND","message":"gone"}'
