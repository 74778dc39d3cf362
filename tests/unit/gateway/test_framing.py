"""Framing as pure functions: frames split anywhere, base64 with mid-stream padding, headers, timeouts."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime.server.gateway.framing import (
    FLAG_TRAILER,
    Base64Decoder,
    FrameReader,
    b64_header,
    b64_header_decode,
    decode_grpc_message,
    encode_frame,
    encode_grpc_message,
    parse_header_block,
    parse_timeout,
    trailer_frame,
)
from realtime.server.platform.errors import Code, HubError

payloads = st.lists(st.binary(max_size=300), max_size=8)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


@given(payloads, st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_frames_survive_any_split(messages: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(m) for m in messages) + trailer_frame([("grpc-status", "0")])
    reader = FrameReader(1000)
    frames = []
    for piece in split_at(stream, cuts):
        frames += reader.feed(piece)
    assert reader.pending == 0
    assert [f.payload for f in frames[:-1]] == messages
    assert frames[-1].flag == FLAG_TRAILER
    assert parse_header_block(frames[-1].payload) == [("grpc-status", "0")]


@given(payloads, st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_text_mode_with_padding_mid_stream(messages: list[bytes], cuts: list[int]) -> None:
    # Each write is base64 on its own, so '=' padding can appear between writes.
    text = b"".join(base64.b64encode(encode_frame(m)) for m in messages)
    decoder = Base64Decoder()
    out = b"".join(decoder.feed(piece) for piece in split_at(text, cuts))
    decoder.finish()
    assert out == b"".join(encode_frame(m) for m in messages)


def test_oversize_is_refused_before_the_payload_arrives() -> None:
    reader = FrameReader(10)
    with pytest.raises(HubError) as caught:
        reader.feed(encode_frame(b"x" * 11)[:5])
    assert caught.value.code is Code.RESOURCE_EXHAUSTED


def test_bad_flag_and_compression() -> None:
    with pytest.raises(HubError) as caught:
        FrameReader(10).feed(b"\x02\0\0\0\0")
    assert caught.value.code is Code.INTERNAL and "flag" in caught.value.message
    with pytest.raises(HubError) as caught:
        FrameReader(10).feed(b"\x01\0\0\0\0")
    assert caught.value.code is Code.UNIMPLEMENTED


def test_bad_base64() -> None:
    with pytest.raises(HubError) as caught:
        Base64Decoder().feed(b"ab!d")
    assert caught.value.code is Code.INTERNAL and "base64" in caught.value.message
    decoder = Base64Decoder()
    decoder.feed(b"abc")
    with pytest.raises(HubError):
        decoder.finish()


def test_header_block() -> None:
    assert parse_header_block(b"Authorization: Bearer x\r\nx-a: 1:2\r\n\r\n") == [
        ("authorization", "Bearer x"),
        ("x-a", "1:2"),
    ]
    with pytest.raises(HubError):
        parse_header_block(b"no colon here\r\n")
    with pytest.raises(HubError):
        parse_header_block(b"\xff\xfe: x\r\n")


@pytest.mark.parametrize(
    ("value", "seconds"), [("100m", 0.1), ("5S", 5.0), ("2M", 120.0), ("1H", 3600.0), ("300u", 3e-4)]
)
def test_timeouts(value: str, seconds: float) -> None:
    assert parse_timeout(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "10", "1s", "123456789S", "-1S", "1.5S"])
def test_malformed_timeouts(value: str) -> None:
    with pytest.raises(HubError) as caught:
        parse_timeout(value)
    assert caught.value.code is Code.INTERNAL


@given(st.text(max_size=50))
def test_grpc_message_round_trip(message: str) -> None:
    encoded = encode_grpc_message(message)
    assert encoded.isascii() and "\r" not in encoded and "\n" not in encoded
    assert decode_grpc_message(encoded) == message


@given(st.binary(max_size=40))
def test_bin_headers_padded_or_not(value: bytes) -> None:
    assert b64_header_decode(b64_header(value)) == value
    assert b64_header_decode(base64.b64encode(value).decode()) == value
