#!/usr/bin/env python3
"""Render a `tmux capture-pane -e -p` dump (text with SGR escapes) to a PNG, cell by cell,
with DejaVu Sans Mono. Used by scripts/screenshot.sh for the README screenshot.

usage: ansi2png.py INPUT.ansi OUTPUT.png [COLUMNS ROWS]
"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
SIZE = 15
BG = (30, 31, 36)
FG = (214, 216, 221)
# The 16 ANSI colours (a calm palette, close to most terminals' defaults).
PALETTE = [
    (40, 42, 46), (224, 108, 117), (152, 195, 121), (229, 192, 123),
    (97, 175, 239), (198, 120, 221), (86, 182, 194), (171, 178, 191),
    (92, 99, 112), (240, 128, 136), (172, 215, 141), (240, 210, 143),
    (127, 195, 255), (218, 140, 241), (106, 202, 214), (235, 238, 243),
]


def xterm256(n):
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    g = 8 + (n - 232) * 10
    return (g, g, g)


def parse(text, cols, rows):
    cells = [[(" ", FG, BG, False) for _ in range(cols)] for _ in range(rows)]
    fg, bg, bold, dim, rev = FG, BG, False, False, False
    for y, line in enumerate(text.split("\n")[:rows]):
        x = 0
        for tok in re.split(r"(\x1b\[[0-9;]*m)", line):
            if tok.startswith("\x1b["):
                codes = [int(c) if c else 0 for c in tok[2:-1].split(";")] or [0]
                i = 0
                while i < len(codes):
                    c = codes[i]
                    if c == 0:
                        fg, bg, bold, dim, rev = FG, BG, False, False, False
                    elif c == 1:
                        bold = True
                    elif c == 2:
                        dim = True
                    elif c == 7:
                        rev = True
                    elif c == 22:
                        bold = dim = False
                    elif c == 27:
                        rev = False
                    elif 30 <= c <= 37:
                        fg = PALETTE[c - 30]
                    elif 90 <= c <= 97:
                        fg = PALETTE[c - 90 + 8]
                    elif c == 39:
                        fg = FG
                    elif 40 <= c <= 47:
                        bg = PALETTE[c - 40]
                    elif 100 <= c <= 107:
                        bg = PALETTE[c - 100 + 8]
                    elif c == 49:
                        bg = BG
                    elif c in (38, 48) and i + 1 < len(codes):
                        if codes[i + 1] == 5 and i + 2 < len(codes):
                            col = xterm256(codes[i + 2])
                            i += 2
                        elif codes[i + 1] == 2 and i + 4 < len(codes):
                            col = tuple(codes[i + 2:i + 5])
                            i += 4
                        else:
                            col = FG if c == 38 else BG
                        if c == 38:
                            fg = col
                        else:
                            bg = col
                    i += 1
                continue
            for ch in tok:
                if x >= cols:
                    break
                f, b = (bg, fg) if rev else (fg, bg)
                if dim and not rev:
                    f = tuple((v + b[k]) // 2 for k, v in enumerate(f))
                cells[y][x] = (ch, f, b, bold)
                x += 1
    return cells


def main():
    src, out = sys.argv[1], sys.argv[2]
    cols = int(sys.argv[3]) if len(sys.argv) > 3 else 120
    rows = int(sys.argv[4]) if len(sys.argv) > 4 else 30
    text = open(src, encoding="utf-8", errors="replace").read()
    font, bold = ImageFont.truetype(FONT, SIZE), ImageFont.truetype(BOLD, SIZE)
    cw = round(font.getlength("M"))
    ch = SIZE + 5
    pad = 12
    img = Image.new("RGB", (cols * cw + 2 * pad, rows * ch + 2 * pad), BG)
    d = ImageDraw.Draw(img)
    for y, row in enumerate(parse(text, cols, rows)):
        for x, (c, f, b, is_bold) in enumerate(row):
            px, py = pad + x * cw, pad + y * ch
            if b != BG:
                d.rectangle([px, py, px + cw - 1, py + ch - 1], fill=b)
            if c != " ":
                d.text((px, py + 2), c, font=bold if is_bold else font, fill=f)
    img.save(out, optimize=True)


if __name__ == "__main__":
    main()
