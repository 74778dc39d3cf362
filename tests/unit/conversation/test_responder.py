from __future__ import annotations

import json
from pathlib import Path

import pytest

from realtime.server.conversation.responder import (
    DEFAULT_SCRIPTS,
    CallState,
    ScreeningResponder,
    classify,
    load_scripts,
)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("we have a special offer on solar panels", "sales"),
        ("you are pre-approved for a low interest loan", "loan"),
        ("would you take a short survey about your opinion", "survey"),
        ("this is the IRS, there is a warrant for your arrest, pay with gift cards", "scam"),
        ("go forward ten meters", "unknown"),
    ],
)
def test_classify(text: str, intent: str) -> None:
    assert classify(text)[0] == intent


def test_polite_persistence_then_termination() -> None:
    r = ScreeningResponder(max_turns=3)
    state = CallState()
    first = r.decide(state, "hi, we have a great deal for you")
    second = r.decide(state, "but it is a limited time offer")
    third = r.decide(state, "are you sure")
    assert (first.intent, second.intent, third.intent) == ("sales", "sales", "sales")
    assert first.text != second.text  # firmer the second time
    assert not first.should_terminate and not second.should_terminate
    assert third.should_terminate and "Goodbye" in third.text
    assert state.turns == 3 and len(state.history) == 3


def test_goodbye_ends_at_once_and_scam_overrides() -> None:
    r = ScreeningResponder(max_turns=5)
    state = CallState()
    assert r.decide(state, "hello, a quick survey").intent == "survey"
    assert r.decide(state, "actually, verify your account, your card is suspended").intent == "scam"
    last = r.decide(state, "ok goodbye then")
    assert last.should_terminate and last.intent == "scam"


def test_confidence_follows_recognition() -> None:
    r = ScreeningResponder()
    sure = r.decide(CallState(), "special offer", 1.0).confidence
    unsure = r.decide(CallState(), "special offer", 0.2).confidence
    assert 0 < unsure < sure <= 1


def test_custom_scripts_are_validated() -> None:
    with pytest.raises(ValueError):
        ScreeningResponder(scripts={"sales": ["x"]})
    with pytest.raises(ValueError):
        ScreeningResponder(max_turns=-1)


def test_no_forced_ending_by_default_and_an_interrupted_goodbye_is_not_replayed() -> None:
    r = ScreeningResponder()
    state = CallState()
    assert not any(r.decide(state, "hello there").should_terminate for _ in range(10))
    limited = ScreeningResponder(max_turns=1)
    state = CallState()
    first = limited.decide(state, "hello")
    assert first.should_terminate and "Goodbye" in first.text
    state.goodbye_interrupted = True  # the caller spoke over it
    again = limited.decide(state, "wait, one more thing")
    assert again.should_terminate and again.text != first.text


def test_scripts_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "scripts.json"
    path.write_text(
        json.dumps({"scripts": {"sales": ["Nope.", "Still nope."]}, "farewell": {"sales": "Bye now."}})
    )
    scripts, farewell = load_scripts(str(path))
    r = ScreeningResponder(2, scripts, farewell)
    state = CallState()
    assert r.decide(state, "special offer").text == "Nope."
    assert r.decide(state, "special offer").text == "Bye now."
    assert scripts["loan"] == list(DEFAULT_SCRIPTS["loan"])  # untouched intents keep the built-ins


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"scripts": {"karaoke": ["x"]}}',
        '{"scripts": {"sales": []}}',
        '{"farewell": {"sales": ""}}',
    ],
)
def test_bad_scripts_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "scripts.json"
    path.write_text(content)
    with pytest.raises(ValueError):
        load_scripts(str(path))
    with pytest.raises(ValueError):
        load_scripts(str(tmp_path / "missing.json"))
