"""Re-create chat_screenshot.png: a phone chat screenshot with Hebrew and English messages.

Run from the repository root: `.venv/bin/python tests/data/make_screenshot.py`.
Needs the DejaVu fonts (Debian fonts-dejavu-core), which cover Hebrew; the
Hebrew lines are laid out right-to-left by Pillow's raqm layout.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
OUT = Path(__file__).with_name("chat_screenshot.png")

# (speaker, text): "them" bubbles on the left, "me" on the right.
MESSAGES = [
    ("them", "Hello! How was your day?"),
    ("me", "Great, thanks for asking"),
    ("them", "שלום, מה שלומך היום"),
    ("me", "הכל טוב, תודה רבה"),
    ("them", "Do you want to meet for coffee tomorrow?"),
]


def main() -> None:
    width, height = 720, 1000
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 30)
    small = ImageFont.truetype(FONT, 24)
    draw.rectangle((0, 0, width, 56), fill=(245, 245, 245))
    draw.text((24, 14), "9:41", font=small, fill="black")
    draw.text((width - 90, 14), "100%", font=small, fill="black")
    draw.text((width // 2 - 40, 80), "Dana", font=font, fill="black")
    y = 160
    for speaker, text in MESSAGES:
        hebrew = any("\u05d0" <= c <= "\u05ea" for c in text)
        kwargs = {"direction": "rtl", "language": "he"} if hebrew else {}
        box = draw.textbbox((0, 0), text, font=font, **kwargs)
        w, h = box[2] - box[0], box[3] - box[1]
        pad = 18
        if speaker == "them":
            x0 = 24
            fill, ink = (233, 233, 235), "black"
        else:
            x0 = width - 24 - w - 2 * pad
            fill, ink = (0, 122, 255), "white"
        draw.rounded_rectangle((x0, y, x0 + w + 2 * pad, y + h + 2 * pad), radius=22, fill=fill)
        draw.text((x0 + pad - box[0], y + pad - box[1]), text, font=font, fill=ink, **kwargs)
        y += h + 2 * pad + 40
    img.save(OUT, optimize=True)


if __name__ == "__main__":
    main()
