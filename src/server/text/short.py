"""Short texts: lexicons of short replies in both languages, and keys to look them up.

A one- or two-word message has too few letters for word frequencies to decide its
layout: 'fi' is a rare English word and also 'כן' typed on the English layout. A
short reply is decided by these lexicons first (a reply in one language typed on
the other layout is fixed; a reply as typed is kept), then by the conversation's
language (a hint, the previous messages), and only then by word frequencies.
"""

from __future__ import annotations

MAX_SHORT_WORDS = 3  # texts with at most this many words are "short"
MAX_SHORT_CHARS = 40

_REPLIES_HE = """
כן|לא|לא נורא|אוקיי|אוקי|סבבה|אחלה|בסדר|בסדר גמור|יאללה|בטח|ברור|נכון|לא נכון|אין בעיה|אין צורך|
שנייה|שניה|רגע|סגור|חחח|חחחח|חחחחח|תודה|תודה רבה|תודה לך|בבקשה|מגניב|וואלה|יופי|מעולה|מצוין|
אולי|אולי מחר|לא יודע|לא יודעת|אני בדרך|בדרך|עוד מעט|כמובן|בדיוק|ממש לא|למה|מתי|איפה|מי|איך|
מה נשמע|מה קורה|מה שלומך|מה המצב|הכל טוב|הכל בסדר|בוקר טוב|לילה טוב|ערב טוב|שבת שלום|שלום|היי|
ביי|להתראות|נתראה|נדבר|נדבר אחר כך|אמן|חבל|אוי|וואו|מזל טוב|כל הכבוד|בהצלחה|סליחה|אני מצטער|
מסכים|מסכימה|נשמע טוב|בואו|קדימה|די|נו|טוב|לגמרי|ברור לי|אין מצב|רק רגע|אני פה|אני כאן|
גם אני|גם אתה|גם את|עם מי|אם אפשר|אם בא לך|מי זה|מה זה|מה איתך|לאן|מאיפה|כמה|כמה זמן|בכיף|בשמחה|
אין על מה|על לא דבר|סגרנו|מושלם|קיבלתי|ראיתי|שמעתי|אני מגיע|אני מגיעה|תכף|עכשיו|אחר כך|מחר|היום
"""

_REPLIES_EN = """
ok|okay|k|kk|okie|yes|yeah|yep|yup|no|nope|nah|sure|sure thing|of course|thanks|thank you|thanks a lot|thx|ty|
cool|nice|great|awesome|perfect|fine|good|very good|lol|lmao|haha|hahaha|hehe|omg|wow|np|no problem|
idk|brb|omw|on my way|got it|sounds good|see you|see you soon|see ya|bye|bye bye|good night|good morning|
hi|hello|hey|yo|what|why|when|where|who|how|how are you|what's up|sup|sorry|my bad|agreed|deal|done|
right|exactly|maybe|maybe later|not sure|i know|me too|same|love it|good luck|congrats|welcome|please|
come on|wait|one sec|hold on|never mind|nvm|all good|all set|i'm here|i'm in|i'm fine|you too|
with who|who is it|what's that|how much|how long|see you later|talk later|ttyl|on it|will do|noted|
not yet|almost|soon|later|tomorrow|today|for sure|i'm coming|coming|let's go|where are you|what's wrong
"""


def _load(block: str) -> frozenset[str]:
    return frozenset(w.strip() for w in block.replace("\n", "").split("|") if w.strip())


REPLIES: dict[str, frozenset[str]] = {"he": _load(_REPLIES_HE), "en": _load(_REPLIES_EN)}

_EDGE = " \t\n?!.,:;'\"()…"


def reply_key(text: str) -> str:
    """Lowercase, edge punctuation stripped, single spaces: 'Sure thing!' -> 'sure thing'."""
    return " ".join(word.strip(_EDGE) for word in text.lower().split() if word.strip(_EDGE))


def is_reply(text: str, lang: str) -> bool:
    return reply_key(text) in REPLIES[lang]
