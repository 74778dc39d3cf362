"""The one settings loader services share (platform/service_config.py), and the services on it."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from realtime.server.analysis import settings as analysis_settings
from realtime.server.collaboration.config import CollabConfig
from realtime.server.conversation.config import ConversationConfig
from realtime.server.notifications.config import NotificationsConfig
from realtime.server.platform.service_config import env_name, load_service_config
from realtime.server.text.config import TextConfig


@dataclass(frozen=True)
class Sample:
    rate: float = 1.5
    count: int = 3
    name: str = "x"
    enabled: bool = False
    names: tuple[str, ...] = ("a",)
    limit: int | None = None


def test_defaults_when_nothing_is_set() -> None:
    assert load_service_config(Sample, "demo", {}, {}) == Sample()


def test_environment_values_are_converted_to_the_field_types() -> None:
    env = {
        "REALTIME_DEMO_RATE": "2",
        "REALTIME_DEMO_COUNT": "7",
        "REALTIME_DEMO_NAME": "hub",
        "REALTIME_DEMO_ENABLED": "yes",
        "REALTIME_DEMO_NAMES": " p, q ,,r ",
        "REALTIME_DEMO_LIMIT": "10",
        "REALTIME_OTHER_COUNT": "99",  # another section's variable is not ours
    }
    got = load_service_config(Sample, "demo", {}, env)
    assert got == Sample(rate=2.0, count=7, name="hub", enabled=True, names=("p", "q", "r"), limit=10)
    assert isinstance(got.rate, float)
    assert load_service_config(Sample, "demo", {}, {"REALTIME_DEMO_LIMIT": ""}).limit is None
    assert load_service_config(Sample, "demo", {}, {"REALTIME_DEMO_ENABLED": "OFF"}).enabled is False


def test_settings_beat_the_environment_and_nested_beats_flat() -> None:
    env = {"REALTIME_DEMO_COUNT": "7", "REALTIME_DEMO_RATE": "9"}
    extra = {"demo_count": 8, "demo": {"rate": 4}}
    assert load_service_config(Sample, "demo", extra, env) == Sample(rate=4.0, count=8)
    both = {"demo_count": 8, "demo": {"count": 5}}
    assert load_service_config(Sample, "demo", both, env).count == 5
    assert load_service_config(Sample, "demo", {"demo": {"names": ["u", "v"]}}, {}).names == ("u", "v")


@pytest.mark.parametrize(
    ("extra", "env", "message"),
    [
        ({}, {"REALTIME_DEMO_COUNT": "many"}, "REALTIME_DEMO_COUNT='many': expected a whole number"),
        ({}, {"REALTIME_DEMO_COUNT": "2.5"}, "REALTIME_DEMO_COUNT='2.5': expected a whole number"),
        ({}, {"REALTIME_DEMO_RATE": "fast"}, "REALTIME_DEMO_RATE='fast': expected a number"),
        ({}, {"REALTIME_DEMO_ENABLED": "maybe"}, "REALTIME_DEMO_ENABLED='maybe': expected true or false"),
        ({"demo_count": 2.5}, {}, "demo_count=2.5: expected a whole number"),
        ({"demo_count": True}, {}, "demo_count=True: expected a whole number"),
        ({"demo": {"rate": "x"}}, {}, "demo.rate='x': expected a number"),
        ({"demo": {"colour": 1}}, {}, "unknown demo setting 'colour'"),
        ({"demo": 3}, {}, "expected a mapping"),
    ],
)
def test_bad_values_name_their_source(extra: dict[str, object], env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        load_service_config(Sample, "demo", extra, env)


def test_only_dataclasses_load() -> None:
    with pytest.raises(TypeError):
        load_service_config(dict, "demo", {}, {})


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_name("demo", "count"), "11")
    assert env_name("demo", "count") == "REALTIME_DEMO_COUNT"
    assert load_service_config(Sample, "demo").count == 11


def test_text_config() -> None:
    assert TextConfig.load({}, {"REALTIME_TEXT_BATCH_WORKERS": "0"}).workers == 0
    assert TextConfig.load({"text": {"batch_workers": 2}}, {}).workers == 2
    assert 1 <= TextConfig.load({}, {}).workers <= 2
    with pytest.raises(ValueError, match="REALTIME_TEXT_BATCH_WORKERS='many': expected a whole number"):
        TextConfig.load({}, {"REALTIME_TEXT_BATCH_WORKERS": "many"})
    with pytest.raises(ValueError, match="text settings: batch_workers=-1: must be 0 or more"):
        TextConfig.load({}, {"REALTIME_TEXT_BATCH_WORKERS": "-1"})


def test_collaboration_config_keeps_its_keys() -> None:
    env = {"REALTIME_COLLAB_LEASE_TTL": "12", "REALTIME_COLLAB_MAX_BATCH": "50"}
    got = CollabConfig.load({"collab_max_batch": 60, "collab_clock": object()}, env)
    assert (got.lease_ttl, got.max_batch) == (12.0, 60)
    assert CollabConfig.load({"collab": {"max_batch": 70}}, env).max_batch == 70
    with pytest.raises(ValueError, match="REALTIME_COLLAB_MAX_BATCH='x'"):
        CollabConfig.load({}, {"REALTIME_COLLAB_MAX_BATCH": "x"})


@dataclass(frozen=True)
class Inner:
    limit: int = 1
    ratio: float = 0.5


@dataclass(frozen=True)
class Outer:
    inner: Inner = Inner()
    name: str = "x"


def test_a_dataclass_field_reads_its_fields_from_the_same_section() -> None:
    env = {"REALTIME_DEMO_LIMIT": "7", "REALTIME_DEMO_NAME": "y"}
    got = load_service_config(Outer, "demo", {"demo_ratio": "0.25"}, env)
    assert got == Outer(Inner(7, 0.25), "y")
    assert load_service_config(Outer, "demo", {"demo": {"limit": 9}}, env).inner.limit == 9
    with pytest.raises(ValueError, match="unknown demo setting 'inner'"):
        load_service_config(Outer, "demo", {"demo": {"inner": {}}}, {})
    with pytest.raises(ValueError, match="REALTIME_DEMO_LIMIT='many'"):
        load_service_config(Outer, "demo", {}, {"REALTIME_DEMO_LIMIT": "many"})


def test_notifications_config_keeps_its_keys() -> None:
    env = {
        "REALTIME_NOTIFICATIONS_OPEN_NAMESPACES": "topic, news",
        "REALTIME_NOTIFICATIONS_PUBLISH_RATE": "5",
    }
    got = NotificationsConfig.load({"publish_burst": 7}, env)
    assert (got.open_namespaces, got.publish_rate, got.publish_burst) == (("topic", "news"), 5.0, 7)
    assert NotificationsConfig.load({"open_namespaces": ["a"]}, env).open_namespaces == ("a",)
    with pytest.raises(ValueError, match="unknown notifications setting 'nope'"):
        NotificationsConfig.load({"nope": 1}, {})


def test_conversation_config_keeps_its_keys() -> None:
    env = {"REALTIME_CONVERSATION_STT_PRESTART": "yes", "REALTIME_CONVERSATION_STT_WORD_BEAM": "1e-20"}
    got = ConversationConfig.load({"max_turns": 3}, env)
    assert (got.stt_prestart, got.stt_word_beam, got.max_turns) == (True, 1e-20, 3)
    assert ConversationConfig.load(None, {}) == ConversationConfig()
    with pytest.raises(ValueError, match="REALTIME_CONVERSATION_STT_PRESTART='maybe'"):
        ConversationConfig.load(None, {"REALTIME_CONVERSATION_STT_PRESTART": "maybe"})
    with pytest.raises(ValueError, match="unknown conversation setting 'voices'"):
        ConversationConfig.load({"voices": "x"}, {})


def test_analysis_settings_keep_their_keys() -> None:
    env = {"REALTIME_ANALYSIS_CONCURRENCY": "2", "REALTIME_ANALYSIS_STREAM_INACTIVITY": "60"}
    got = analysis_settings.load({"analysis_job_timeout": 30, "analysis_analyzers": "a:b, c:d"}, env)
    assert (got.scheduler.concurrency, got.scheduler.job_timeout) == (2, 30.0)
    assert (got.stream_inactivity, got.analyzers) == (60.0, ("a:b", "c:d"))
    assert analysis_settings.load({"analysis": {"queue_limit": 5}}, {}).scheduler.queue_limit == 5
    assert analysis_settings.load({}, {}) == analysis_settings.AnalysisSettings()
    with pytest.raises(ValueError, match="analysis_aging must not be negative"):
        analysis_settings.load({"analysis_aging": -1}, {})
