"""Issue 19: the physical keyboard (Shift, apostrophes, digits), short replies, context, sentences."""

from __future__ import annotations

import pytest

from realtime.server.platform.errors import HubError
from realtime.server.text.fixer import MAX_CONTEXT, TextFixer, check_context
from realtime.server.text.keyboard import type_on_english, type_on_hebrew
from realtime.server.text.layout import LayoutFixer, fix_layout
from realtime.server.text.short import is_reply, reply_key


@pytest.fixture(scope="module")
def fixer() -> LayoutFixer:
    return LayoutFixer()


def test_typing_with_shift_and_punctuation_keys() -> None:
    assert type_on_hebrew("Hello") == "Hקךךם"  # Shift on the Hebrew layout types a Latin capital
    assert type_on_hebrew("I'm") == "I,צ"  # the apostrophe key types a comma
    assert type_on_hebrew("5pm.") == "5פצץ"  # digits stay digits; the full-stop key is ץ
    assert type_on_hebrew("a[1]") == "ש]1["  # brackets mirror
    assert type_on_english("ג'ירפה") == "dwhrpv"  # the geresh is the w key
    assert type_on_english('צה"ל') == 'mv"k'  # gershayim is Shift+' on both layouts
    assert type_on_english("כן, אני בבית.") == "fi' tbh cch,/"


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("Hקךךם", "Hello"),
        (type_on_hebrew("Hello, how are you?"), "Hello, how are you?"),
        (type_on_hebrew("I'm on my way"), "I'm on my way"),
        (type_on_hebrew("Don't worry about it"), "Don't worry about it"),
        (type_on_hebrew("It's 5pm already"), "It's 5pm already"),
        (type_on_hebrew("She's on the 3rd floor"), "She's on the 3rd floor"),
        (type_on_hebrew("I'll be there at 10:30am"), "I'll be there at 10:30am"),
        (type_on_english("קניתי ג'ינס חדש"), "קניתי ג'ינס חדש"),
        (type_on_english('צה"ל הודיע על תרגיל'), 'צה"ל הודיע על תרגיל'),
        (type_on_english("נפגשים ב8 בערב"), "נפגשים ב8 בערב"),
        (type_on_english("הפגישה ב-3 אחרי הצהריים"), "הפגישה ב-3 אחרי הצהריים"),
        (type_on_english("אני בבית [עדיין]"), "אני בבית [עדיין]"),  # the bracket keys swap back
        (type_on_hebrew("[draft] send it"), "[draft] send it"),
        (type_on_hebrew("Wait; what?"), "Wait; what?"),  # ';' is ף on the Hebrew layout
        (type_on_english("יום ב' בבוקר"), "יום ב' בבוקר"),  # the geresh is the w key
    ],
)
def test_physical_keyboard_cases(fixer: LayoutFixer, typed: str, meant: str) -> None:
    assert fix_layout(typed, fixer) == meant


@pytest.mark.parametrize(
    "text",
    [
        "13פצ",  # no 13pm: the suffix must fit the number
        "4רג",  # 4rd is not an ordinal
        '5 ק"מ',
        "5kg 3GB 1080p 4K",
        "v2 is out",  # a Hebrew prefix key before a number changes only among Hebrew words
        "I met דנה yesterday",
        'print("akuo")',
        "ok 👍",
        "O'Brien is here",
        "arr]0[ x]i[",  # brackets facing away from a word that does not change stay as they are
        "]hello[",
        "הוא עובד בIT",  # a Hebrew prefix before an acronym is not Shift on the Hebrew layout
        "לCEO החדש",
    ],
)
def test_controls_stay(fixer: LayoutFixer, text: str) -> None:
    assert fixer.suggest(text) == []


def test_short_replies(fixer: LayoutFixer) -> None:
    for typed, meant in [("fi", "כן"), ("kt", "לא"), ("kt burt", "לא נורא"), ("םל", "ok"), ("Oל", "Ok")]:
        decision = fixer.decide(typed)
        assert fix_layout(typed, fixer) == meant
        assert decision.reason == "short_reply" and 0.5 <= decision.confidence <= 1.0
    # A reply as typed is kept, and says so.
    kept = fixer.decide("ok")
    assert (kept.suggestions, kept.language, kept.reason) == ([], "en", "short_reply")
    assert fixer.decide("כן").language == "he"
    # A common word as typed is never turned into a reply: 'cut' is not 'בוא'.
    assert fixer.suggest("cut") == []


def test_reply_keys() -> None:
    assert reply_key("  Sure   thing!! ") == "sure thing"
    assert is_reply("לא נורא.", "he") and not is_reply("לא נורא", "en")


def test_context_decides_short_ambiguous_texts(fixer: LayoutFixer) -> None:
    assert fix_layout("nv?", fixer) == "nv?"  # 'nv' is also an English abbreviation
    decision = fixer.decide("nv?", context=["יש לך רגע?"])
    assert (decision.language, decision.reason) == ("he", "context")
    assert fix_layout("nv?", fixer, context=["יש לך רגע?"]) == "מה?"
    # Context typed on the wrong layout counts for the language it was meant in.
    assert fix_layout("nv?", fixer, context=["ha kl rdg?"]) == "מה?"
    assert fix_layout("עם", fixer, ["en"]) == "go"
    assert fixer.decide("עם", ["en"]).reason == "hint"
    # Context never turns a reply, a capitalised word or an unlikely word over.
    assert fix_layout("כן", fixer, context=["are you coming?"]) == "כן"
    assert fix_layout("Hi", fixer, context=["שלום"]) == "Hi"
    assert fix_layout("לא", fixer, ["en"]) == "לא"
    # Long texts are decided by their own words, whatever the context.
    assert fix_layout("i think so too", fixer, context=["שלום"] * 5) == "i think so too"


def test_sentence_consistency(fixer: LayoutFixer) -> None:
    # 'to' is a common English word, but the rest of the sentence was fixed into Hebrew.
    assert fix_layout("to t,v rumv", fixer) == "אם אתה רוצה"
    assert fixer.decide("to t,v rumv").reason == "sentence"
    assert fix_layout(type_on_hebrew("Do you want to go?"), fixer) == "Do you want to go?"
    assert fix_layout(type_on_hebrew("Let's go"), fixer) == "Let's go"  # one fixed word, one waiting
    # 'an,' is common English as typed; in a sentence of Hebrew it is 'שמת'.
    assert fix_layout(type_on_english("איפה שמת את המפתחות?"), fixer) == "איפה שמת את המפתחות?"
    # Two ambiguous words that make a reply together: 'do tbh' is 'גם אני'.
    assert fix_layout("do tbh", fixer) == "גם אני"
    assert fix_layout("to do", fixer) == "to do" and fix_layout("go go go", fixer) == "go go go"
    # Genuinely mixed text, where nothing was typed on the wrong layout, stays mixed.
    for text in ("ok שנדבר מחר?", "אני ok", "lol זה מצחיק", "the word שלום means peace"):
        decision = fixer.decide(text)
        assert decision.suggestions == [] and decision.language in ("he", "en", "mixed")


def test_decision_on_plain_texts(fixer: LayoutFixer) -> None:
    assert fixer.decide("akuo nv akunl").language == "he"
    assert fixer.decide("hello world").language == "en"
    assert (fixer.decide("1234 !!").language, fixer.decide("1234 !!").reason) == ("", "none")
    fix = TextFixer(fixer).fix("akuo nv")
    assert (fix.text, fix.language, fix.reason) == ("שלום מה", "he", "words")
    assert 0.0 < fix.confidence <= 1.0


def test_context_is_bounded() -> None:
    assert check_context(["a"] * MAX_CONTEXT, "options.context") == ("a",) * MAX_CONTEXT
    for bad, field in [
        (["a"] * (MAX_CONTEXT + 1), "options.context"),
        (["x" * 1001], "options.context[0]"),
        (["ok", "\ud800"], "options.context[1]"),
    ]:
        with pytest.raises(HubError) as err:
            check_context(bad, "options.context")
        assert err.value.violations[0].field == field


def test_context_ten_times_bigger_is_read_only_in_part(fixer: LayoutFixer) -> None:
    # The fixer reads the last few messages, each from its end: a huge context costs no more.
    huge = ["hello world " * 2000] * 50 + ["יש לך רגע?"] * 5
    assert fix_layout("nv?", fixer, context=huge) == "מה?"


def test_hold_keeps_the_word_being_typed() -> None:
    tf = TextFixer(LayoutFixer())
    assert tf.fix("akuo aku", hold=(5, 8)).text == "שלום aku"
    assert tf.fix("akuo aku").text.startswith("שלום ")


def test_context_on_random_short_texts(fixer: LayoutFixer) -> None:
    """Short texts (1-2 common words, seeded): a context in the other language never turns a correct
    text over, and a context in the meant language fixes at least as many wrong-layout ones."""
    import random

    import wordfreq

    seed = 6
    print("seed", seed)
    rng = random.Random(seed)
    en = [w for w in wordfreq.top_n_list("en", 2000) if w.isascii() and w.isalpha()]
    he = [w for w in wordfreq.top_n_list("he", 2500) if all("\u05d0" <= c <= "\u05ea" for c in w)]
    hebrew, english = ["אני בדרך הביתה"], ["I am on my way home"]
    turned = alone = helped = 0
    for i in range(1000):
        meant = " ".join(rng.choices(he if i % 2 else en, k=rng.randint(1, 2)))
        other, same = (english, hebrew) if i % 2 else (hebrew, english)
        if fix_layout(meant, fixer, context=other) != meant:
            turned += 1
        typed = type_on_english(meant) if i % 2 else type_on_hebrew(meant)
        alone += fix_layout(typed, fixer) == meant
        helped += fix_layout(typed, fixer, context=same) == meant
    assert turned == 0
    assert helped >= alone and helped >= 950, (alone, helped)
