"""Build the kiosk's UI font: the CJK face cut down to the characters the kiosk shows.

    python -m kiosk.fontsubset --font FACE.otf --out UI.otf --chars CHARS.txt [--font ... --out ...]

Why. Kivy's SDL2 text provider opens the font file once per (font, size, bold) it
draws, and every opening of Noto Sans CJK parses the whole 65,535-glyph CFF font
again: measured 2.3-2.6 MB per opening, and the kiosk's screens use 25-30 of them
(60-70 MB). A face with only the characters of the UI catalogue, the service
messages and the input method's word list (about 7,800), desubroutinized (FreeType
keeps a parsed copy of the subroutines per opening; without them there is nothing to
copy), costs about 0.1 MB per opening and draws the same glyphs.

Labels whose text has a character outside the subset are drawn with the full face
(kiosk.fonts installs the switch), so a rare character in a name from central still
shows. fontTools is needed here only, in a child process the kiosk starts in the
background (the work peaks at about 160 MB and some seconds, once per font file);
the kiosk carries none of it.

Each output is written to a temporary file and renamed, with ``<out>.chars`` beside
it: the characters the subset covers, which the kiosk reads to decide per label.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sys
import tempfile
from pathlib import Path


def build(face: str, out: str, chars: str) -> None:
    from fontTools import subset

    opts = subset.Options()
    opts.layout_features = ["*"]  # kerning and the CJK features stay as they were
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.notdef_outline = True
    opts.desubroutinize = True
    opts.glyph_names = False
    opts.recalc_timestamp = False
    font = subset.load_font(face, opts)
    subsetter = subset.Subsetter(opts)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(fd)
    try:
        subset.save_font(font, tmp, opts)
        covered = "".join(sorted(chr(c) for c in font.getBestCmap()))
        chars_tmp = tmp + ".chars"
        Path(chars_tmp).write_text(covered, encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(chars_tmp, str(target) + ".chars")
        os.replace(tmp, target)  # last: the font's presence means both files are complete
    finally:
        for leftover in (tmp, tmp + ".chars"):
            if os.path.exists(leftover):
                os.unlink(leftover)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="build the kiosk's UI font subsets")
    parser.add_argument("--font", action="append", required=True, help="a single-face .otf/.ttf to cut down")
    parser.add_argument("--out", action="append", required=True, help="where to write its subset")
    parser.add_argument("--chars", required=True, help="a UTF-8 file with the characters to keep")
    parser.add_argument("--lock", help="a lock file: if another builder holds it, do nothing")
    parser.add_argument("--nice", type=int, default=0, help="lower this process's priority first")
    args = parser.parse_args(argv)
    if len(args.font) != len(args.out):
        parser.error("give one --out per --font")
    if args.nice:
        os.nice(args.nice)
    lock = None
    if args.lock:
        lock = open(args.lock, "a+")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return 0  # another kiosk is building them already
    chars = Path(args.chars).read_text(encoding="utf-8")
    for face, out in zip(args.font, args.out):
        if not Path(out).exists():
            build(face, out, chars)
    return 0


if __name__ == "__main__":
    sys.exit(main())
