"""Shared helpers of the analysis service tests."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from google.longrunning import operations_pb2
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from PIL import Image

from realtime.v1 import analysis_pb2, analysis_pb2_grpc

SERVICES = ("realtime.server.diagnostics.service", "realtime.server.analysis.service")
SCREENSHOT = Path(__file__).resolve().parents[1] / "data" / "chat_screenshot.png"


def png(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def text_request(text: str, **kw: Any) -> analysis_pb2.SubmitAnalysisRequest:
    return analysis_pb2.SubmitAnalysisRequest(
        analyzer=kw.pop("analyzer", "text.inspect"), input=analysis_pb2.AnalysisInput(text=text), **kw
    )


def image_request(data: bytes, analyzer: str, content_type: str = "image/png", **kw: Any) -> Any:
    return analysis_pb2.SubmitAnalysisRequest(
        analyzer=analyzer, input=analysis_pb2.AnalysisInput(data=data, content_type=content_type), **kw
    )


def meta(op: operations_pb2.Operation) -> analysis_pb2.AnalysisMetadata:
    m = analysis_pb2.AnalysisMetadata()
    op.metadata.Unpack(m)
    return m


def result(op: operations_pb2.Operation) -> tuple[dict[str, Any], analysis_pb2.AnalysisResult]:
    r = analysis_pb2.AnalysisResult()
    assert op.HasField("response"), f"no response: {op.error}"
    op.response.Unpack(r)
    return json_format.MessageToDict(r.data), r


def details(err: grpc.aio.AioRpcError) -> dict[str, Any]:
    """ErrorInfo reason and RetryInfo delay of a rich status."""
    found: dict[str, Any] = {}
    status = rpc_status.from_call(err)
    assert status is not None
    for d in status.details:
        if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            d.Unpack(info)
            found["reason"] = info.reason
        if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            d.Unpack(retry)
            found["retry"] = retry.retry_delay.ToTimedelta().total_seconds()
    return found


async def watch_all(
    stub: analysis_pb2_grpc.AnalysisServiceStub, name: str, timeout: float = 30
) -> list[analysis_pb2.WatchAnalysisResponse]:
    events = []
    async with asyncio.timeout(timeout):
        async for event in stub.WatchAnalysis(analysis_pb2.WatchAnalysisRequest(name=name)):
            events.append(event)
    return events


async def commands(*items: Any) -> AsyncIterator[Any]:
    for item in items:
        yield item
