"""Handwriting (手写) recognition for the on-screen keyboard (plain Python, no Kivy).

Zinnia (Debian `libzinnia0`) with the Tegaki simplified-Chinese model (Debian
`tegaki-zinnia-simplified-chinese`, /usr/share/tegaki/models/zinnia/handwriting-zh_CN.model),
bound with ctypes: PyPI has no maintained binding that installs here (the old SWIG
`zinnia-python` is not served and would compile its own copy of Zinnia), and the C API
needs only ten functions.

    rec = get_recognizer()            # None when the library or the model is missing (logged once)
    ink = Ink()                       # strokes in the model's space: 1000 x 1000, y down
    ink.start(x, y); ink.extend(x, y); ink.end()       # one stroke (model coordinates)
    ink.start_in_box(x, y, w, h)      # or from a pad of w x h with y up (Kivy), scaled to the model
    rec.recognize(ink.strokes, n=10)  # [Candidate('王', 0.31), ...] best first

Ranking: `prefer` (a set of characters, e.g. the common surnames while the first
character of a name is written) adds PREFER_BONUS to their Zinnia scores. The bonus was
chosen on surnames that the accuracy figures do not use (bench/handwriting_bench.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import math
import os
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SIZE = 1000  # the model's coordinate space (Tegaki writes characters in a 1000 x 1000 box)
MODEL_NAME = "handwriting-zh_CN.model"
MODEL_DIRS = ("/usr/share/tegaki/models/zinnia", "/usr/local/share/tegaki/models/zinnia")
LIBRARY_NAMES = ("libzinnia.so.0", "zinnia")
MIN_STEP = 6.0  # model units: closer points add nothing to the strokes but work
MAX_POINTS = 2000  # per character: a hand that never lifts cannot grow the ink without bound
MAX_STROKES = 64
PREFER_BONUS = 0.3
ENV_MODEL = "LOBBY_HANDWRITING_MODEL"  # another model file ("" or "none": no handwriting)

Point = tuple[float, float]


@dataclass(frozen=True)
class Candidate:
    text: str
    score: float


class Unavailable(RuntimeError):
    """The library or the model is missing (the keyboard then offers pinyin only)."""


def find_model() -> Path | None:
    env = os.environ.get(ENV_MODEL)
    if env is not None:
        return Path(env) if env not in ("", "none") and Path(env).is_file() else None
    for d in MODEL_DIRS:
        p = Path(d) / MODEL_NAME
        if p.is_file():
            return p
    return None


def _load_library() -> ctypes.CDLL:
    errors = []
    for name in LIBRARY_NAMES:
        path = name if name.endswith(".0") else ctypes.util.find_library(name)
        if not path:
            continue
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError as exc:
            errors.append(str(exc))
    else:
        raise Unavailable(f"libzinnia not found ({'; '.join(errors) or 'not installed'})")
    vp, sz = ctypes.c_void_p, ctypes.c_size_t
    for fn, args, res in (("zinnia_recognizer_new", [], vp), ("zinnia_recognizer_destroy", [vp], None),
                          ("zinnia_recognizer_open", [vp, ctypes.c_char_p], ctypes.c_int),
                          ("zinnia_recognizer_strerror", [vp], ctypes.c_char_p),
                          ("zinnia_character_new", [], vp), ("zinnia_character_destroy", [vp], None),
                          ("zinnia_character_clear", [vp], None),
                          ("zinnia_character_set_width", [vp, sz], None),
                          ("zinnia_character_set_height", [vp, sz], None),
                          ("zinnia_character_add", [vp, sz, ctypes.c_int, ctypes.c_int], ctypes.c_int),
                          ("zinnia_recognizer_classify", [vp, vp, sz], vp),
                          ("zinnia_result_value", [vp, sz], ctypes.c_char_p),
                          ("zinnia_result_score", [vp, sz], ctypes.c_float),
                          ("zinnia_result_size", [vp], sz), ("zinnia_result_destroy", [vp], None)):
        f = getattr(lib, fn)
        f.argtypes, f.restype = args, res
    return lib


class HandwritingRecognizer:
    """One Zinnia recogniser over one model file (memory-mapped by Zinnia); thread-safe."""

    def __init__(self, model: str | Path | None = None) -> None:
        path = Path(model) if model else find_model()
        if path is None or not path.is_file():
            raise Unavailable(f"handwriting model not found ({model or ', '.join(MODEL_DIRS)})")
        self._lib = _load_library()
        self.model = path
        self._rec = self._lib.zinnia_recognizer_new()
        if not self._lib.zinnia_recognizer_open(self._rec, os.fsencode(path)):
            why = (self._lib.zinnia_recognizer_strerror(self._rec) or b"").decode(errors="replace")
            self._lib.zinnia_recognizer_destroy(self._rec)
            self._rec = None
            raise Unavailable(f"handwriting model {path} could not be opened: {why}")
        self._char = self._lib.zinnia_character_new()
        self._lock = threading.Lock()

    def recognize(self, strokes: Sequence[Sequence[Point]], n: int = 10,
                  prefer: Collection[str] = (), bonus: float = PREFER_BONUS) -> list[Candidate]:
        """The n likeliest characters for strokes in model space (1000 x 1000, y down), best first."""
        strokes = [s for s in strokes if len(s) > 0][:MAX_STROKES]
        if not strokes or n < 1:
            return []
        lib = self._lib
        wide = max(n, 30) if prefer else n  # a preferred character may come from further down
        with self._lock:
            if self._rec is None:
                return []
            lib.zinnia_character_clear(self._char)
            lib.zinnia_character_set_width(self._char, SIZE)
            lib.zinnia_character_set_height(self._char, SIZE)
            for i, stroke in enumerate(strokes):
                pts = stroke if len(stroke) > 1 else [stroke[0], stroke[0]]  # a dot is a stroke too
                for x, y in pts:
                    lib.zinnia_character_add(self._char, i, _clamp(x), _clamp(y))
            result = lib.zinnia_recognizer_classify(self._rec, self._char, wide)
            if not result:
                return []
            try:
                out = []
                for i in range(lib.zinnia_result_size(result)):
                    raw = lib.zinnia_result_value(result, i)
                    text = raw.decode("utf-8", errors="replace") if raw else ""
                    if text:
                        out.append(Candidate(text, float(lib.zinnia_result_score(result, i))))
            finally:
                lib.zinnia_result_destroy(result)
        if prefer:
            out.sort(key=lambda c: -(c.score + (bonus if c.text in prefer else 0.0)))
        return out[:n]

    def close(self) -> None:
        with self._lock:
            if self._rec is not None:
                self._lib.zinnia_character_destroy(self._char)
                self._lib.zinnia_recognizer_destroy(self._rec)
                self._rec = self._char = None

    def __del__(self) -> None:  # pragma: no cover - interpreter shutdown
        try:
            self.close()
        except Exception:
            pass


def _clamp(v: float) -> int:
    return int(min(SIZE, max(0, round(v))))


_shared: HandwritingRecognizer | None = None
_reason: str | None = None  # why handwriting is not offered (logged once)
_available: bool | None = None
_shared_lock = threading.Lock()


def get_recognizer() -> HandwritingRecognizer | None:
    """The kiosk's one recogniser, opened on first use; None (logged once) when it cannot be."""
    global _shared, _reason, _available
    with _shared_lock:
        if _shared is None and _reason is None:
            try:
                _shared = HandwritingRecognizer()
                log.info("handwriting input: Zinnia with %s", _shared.model)
            except Unavailable as exc:
                _reason, _available = str(exc), False
                log.warning("handwriting input (手写) not offered: %s", _reason)
        return _shared


def available() -> bool:
    """Would get_recognizer() succeed? (The model file exists, the library loads.) Cached; a
    missing part is logged once, and the keyboard then offers pinyin only."""
    global _available, _reason
    if _shared is not None:
        return True
    with _shared_lock:
        if _available is None:
            model = find_model()
            if model is None:
                _reason = f"handwriting model not found ({', '.join(MODEL_DIRS)})"
            elif not (_can_load("libzinnia.so.0") or ctypes.util.find_library("zinnia")):
                _reason = "libzinnia not found (Debian package libzinnia0)"
            _available = _reason is None
            if _reason is not None:
                log.warning("handwriting input (手写) not offered: %s", _reason)
        return _available


def _can_load(name: str) -> bool:
    try:
        ctypes.CDLL(name)
        return True
    except OSError:
        return False


def reset() -> None:
    """Forget the shared recogniser and the reason (tests)."""
    global _shared, _reason, _available
    with _shared_lock:
        if _shared is not None:
            _shared.close()
        _shared, _reason, _available = None, None, None


class Ink:
    """The strokes of one character as they are written, in model space (1000 x 1000, y down)."""

    def __init__(self) -> None:
        self.strokes: list[list[Point]] = []
        self._open = False

    @property
    def points(self) -> int:
        return sum(len(s) for s in self.strokes)

    @property
    def writing(self) -> bool:
        return self._open

    def start(self, x: float, y: float) -> bool:
        if len(self.strokes) >= MAX_STROKES or self.points >= MAX_POINTS:
            return False
        self.strokes.append([(_bound(x), _bound(y))])
        self._open = True
        return True

    def extend(self, x: float, y: float) -> bool:
        if not self._open or self.points >= MAX_POINTS:
            return False
        p = (_bound(x), _bound(y))
        last = self.strokes[-1][-1]
        if math.hypot(p[0] - last[0], p[1] - last[1]) < MIN_STEP:
            return False
        self.strokes[-1].append(p)
        return True

    def end(self) -> bool:
        """The stroke is finished; True when there is a stroke to recognise."""
        was = self._open
        self._open = False
        return was and bool(self.strokes)

    def undo(self) -> bool:
        if not self.strokes:
            return False
        self.strokes.pop()
        self._open = False
        return True

    def clear(self) -> bool:
        had = bool(self.strokes)
        self.strokes = []
        self._open = False
        return had

    # -- from a writing pad of w x h, y up (Kivy's local coordinates)
    def start_in_box(self, x: float, y: float, w: float, h: float) -> bool:
        return self.start(*to_model(x, y, w, h))

    def extend_in_box(self, x: float, y: float, w: float, h: float) -> bool:
        return self.extend(*to_model(x, y, w, h))


def to_model(x: float, y: float, w: float, h: float) -> Point:
    """A point on a pad of w x h with its origin bottom-left (Kivy) in the model's space (y down).

    The pad's longer side is scaled to the model's box, keeping the aspect ratio, so that a
    character written in the middle of a wide pad keeps its shape.
    """
    side = max(w, h, 1.0)
    ox, oy = (side - w) / 2, (side - h) / 2
    return (x + ox) * SIZE / side, (side - (y + oy)) * SIZE / side


def _bound(v: float) -> float:
    return min(float(SIZE), max(0.0, float(v)))


def resample(stroke: Iterable[Point], step: float) -> list[Point]:
    """Points every `step` units along a polyline (how a finger reports a stroke)."""
    pts = list(stroke)
    if len(pts) < 2:
        return pts
    out = [pts[0]]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        d = math.hypot(x1 - x0, y1 - y0)
        k = max(1, int(d // step))
        out.extend((x0 + (x1 - x0) * i / k, y0 + (y1 - y0) * i / k) for i in range(1, k + 1))
    return out
