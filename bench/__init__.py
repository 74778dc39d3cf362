"""Benchmarks. Every figure is reported beside a raw grpc.aio echo baseline measured in the same run."""
