"""Every realtime.v1 proto names its package for every language, so no generator needs hand-written
flags (`M` for Go, a package for Java, namespaces for C#, PHP and Ruby, a prefix for Objective-C).
buf lint (PACKAGE_SAME_*) keeps the files of the package agreeing; this pins the values."""

from __future__ import annotations

import importlib
from pathlib import Path

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[3]
EXPECTED = {
    "go_package": "realtime.dev/hub/gen/go/realtime/v1;realtimev1",
    "java_package": "dev.realtime.hub.v1",
    "java_multiple_files": True,
    "csharp_namespace": "Realtime.V1",
    "php_namespace": "Realtime\\V1",
    "ruby_package": "Realtime::V1",
    "objc_class_prefix": "RTV",
}


def test_every_proto_has_every_language_option() -> None:
    protos = sorted((ROOT / "proto" / "realtime" / "v1").glob("*.proto"))
    assert len(protos) >= 7
    for path in protos:
        module = importlib.import_module(f"realtime.v1.{path.stem}_pb2")
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        for option, value in EXPECTED.items():
            assert proto.options.HasField(option), (path.name, option)
            assert getattr(proto.options, option) == value, (path.name, option)


def test_error_details_are_bundled_for_other_languages() -> None:
    bundled = ROOT / "proto" / "google" / "rpc" / "error_details.proto"
    assert "message ErrorInfo" in bundled.read_text()
    assert (ROOT / "gen" / "ts" / "google" / "rpc" / "error_details_pb.ts").exists()
    assert (ROOT / "gen" / "go" / "realtime" / "v1" / "text_grpc.pb.go").exists()
