# ruff: noqa: RUF001  (Hebrew letters are this module's subject, not look-alikes)
"""The standard Israeli keyboard layout (SI-1452) as translation tables.

Each entry pairs what a key types on the English (US) layout with what the same
key types on the Hebrew layout. Typing Hebrew while the English layout is active
turns 'שלום' into 'akuo'; the reverse turns 'hello' into 'יקךךם'. Punctuation keys
carry Hebrew letters (`,` is ת, `.` is ץ, `;` is ף) and letter keys carry Hebrew
punctuation (`w` is the geresh `'`, `q` is `/`), so a word's edges may be letters
or punctuation depending on the layout it was meant for.
"""

from __future__ import annotations

# English key -> Hebrew character on the same key (unshifted).
EN_TO_HE: dict[str, str] = {
    "q": "/", "w": "'", "e": "ק", "r": "ר", "t": "א", "y": "ט", "u": "ו", "i": "ן", "o": "ם", "p": "פ",
    "a": "ש", "s": "ד", "d": "ג", "f": "כ", "g": "ע", "h": "י", "j": "ח", "k": "ל", "l": "ך", ";": "ף",
    "'": ",", "z": "ז", "x": "ס", "c": "ב", "v": "ה", "b": "נ", "n": "מ", "m": "צ", ",": "ת", ".": "ץ",
    "/": ".", "`": ";",
}  # fmt: skip

HE_TO_EN: dict[str, str] = {he: en for en, he in EN_TO_HE.items()}

# str.translate tables, built once: translating a word is one C call.
EN_TABLE = str.maketrans(EN_TO_HE)
HE_TABLE = str.maketrans(HE_TO_EN)

HEBREW_LETTERS = frozenset("אבגדהוזחטיכךלמםנןסעפףצץקרשת")
FINAL_LETTERS = frozenset("ךםןףץ")
# Regular forms that have a final form; at the end of a Hebrew word they are rare (loanwords, slang).
HAS_FINAL_FORM = frozenset("כמנפצ")
LATIN_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")

# Characters that may belong to a word typed on either layout (letters and the
# punctuation keys that carry letters). Everything else separates words.
LATIN_WORD_CHARS = frozenset(EN_TO_HE) | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
HEBREW_WORD_CHARS = frozenset(HE_TO_EN)

# Edge punctuation stripped before a word is looked up, per script.
LATIN_EDGE_PUNCT = ",.;'/`"
HEBREW_EDGE_PUNCT = ",.;'/"


def en_to_he(text: str) -> str:
    """What `text` becomes when the same keys are pressed on the Hebrew layout."""
    return text.lower().translate(EN_TABLE)


def he_to_en(text: str) -> str:
    """What `text` becomes when the same keys are pressed on the English layout."""
    return text.translate(HE_TABLE)


# Shift with the Hebrew layout active types Latin capitals (the Hebrew layout has no capitals),
# so a capital in a Hebrew-layout word is a key pressed with Shift: 'Hello' arrives as 'Hקךךם'.
LATIN_CAPITALS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

# Keys whose brackets swap between the layouts (SI-1452 puts ']' on the '[' key, '}' on '{';
# some variants also swap the parentheses). Other punctuation ('?', '!', ':', '"', digits) is
# the same on both layouts.
MIRRORED = {"[": "]", "]": "[", "{": "}", "}": "{"}
OPENERS = frozenset("([{")
CLOSERS = frozenset(")]}")


def type_on_hebrew(text: str) -> str:
    """What typing `text` (meant as English) gives with the Hebrew layout active, Shift included.

    Lowercase letters and the punctuation keys that carry Hebrew letters turn Hebrew, capitals
    stay Latin (Shift), brackets mirror, digits and the other punctuation stay as they are.
    """
    return "".join(ch if ch in LATIN_CAPITALS else MIRRORED.get(ch) or EN_TO_HE.get(ch, ch) for ch in text)


def type_on_english(text: str) -> str:
    """What typing `text` (meant as Hebrew) gives with the English layout active."""
    return "".join(MIRRORED.get(ch) or HE_TO_EN.get(ch, ch) for ch in text)
