"""Attacks on analysis jobs through a real hub: the same submit twenty times at once, two
cancels and deletes of the same job at once, on the memory and sqlite engines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google.longrunning import operations_pb2

from realtime.server.testing import TestHub, running_hub
from realtime.v1 import analysis_pb2_grpc

from .analysis_helpers import SERVICES, text_request


@pytest.fixture(params=["memory", "sqlite"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestHub]:
    broker = {"sqlite": {"broker": f"sqlite://{tmp_path}/hub.db"}}.get(request.param, {})
    async with running_hub(tmp_path, services=SERVICES, **broker) as h:
        yield h


async def test_the_same_submit_twenty_times_at_once_makes_one_job(hub: TestHub) -> None:
    """A client retrying a submit (same request_id) while the first is still in flight gets the
    first job back; no second job runs for the same request."""
    async with hub.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        firsts = []
        for round_ in range(10):
            request = text_request(f"once only {round_}", request_id=f"retry-me-{round_}")
            ops = await asyncio.gather(*(stub.SubmitAnalysis(request, timeout=20) for _ in range(20)))
            assert len({op.name for op in ops}) == 1, (round_, sorted({op.name for op in ops}))
            firsts.append(ops[0].name)
        listed = await stub.ListOperations(operations_pb2.ListOperationsRequest(page_size=100), timeout=10)
        assert sorted(op.name for op in listed.operations) == sorted(firsts)
