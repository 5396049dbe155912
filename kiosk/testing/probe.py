"""Test mode (environment LOBBY_KIOSK_TEST_MAP=<file>): what UI tests and the benchmark see.

- `<file>`: a JSON map of the current screen's named widgets (`tid`) with their rectangles
  in X screen coordinates (origin top-left; under `kiosk.rotation` the rectangle the widget
  covers on the turned screen, so w and h swap at 90/270), text (markup removed), whether disabled, the
  visible part inside scroll views, the on-screen keyboard's keys ("key:<id>") and
  candidates ("key:cand0" ... with their text); rewritten whenever something changed.
  Tests click with xdotool by name from it.
- `<file>.events`: one JSON line per event (ready, tap_drawn, idle_wipe, checked_in ...),
  with a CLOCK_MONOTONIC time (comparable across processes).
- `<file>.sock`: a JSON-lines control socket for what input devices cannot do: look for
  a text in the app's memory (idle-wipe test), raise an error in a callback (apology
  test), show the screen saver, report RSS and where it is, run simulated flows (memory benchmark),
  hold the worker threads busy until released (a slow store write: double-tap test).

Nothing here runs unless the variable is set.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.screenmanager import Screen
from kivy.uix.stencilview import StencilView

from kiosk.ime.widgets import ImeKeyboard
from kiosk.testing.memory import rss_kb

log = logging.getLogger(__name__)
MARKUP = re.compile(r"\[/?(?:b|i|u|s|sub|sup|size|color|font|font_family|anchor|ref|text_language)(?:=[^\]]*)?\]")


SIZE_TAG = re.compile(r"\[size=(\d+)\]")


def rendered_lines(w: Any) -> list[str] | None:
    """The lines a Kivy label drew (after wrapping and `shorten`), from its core label's layout."""
    core = getattr(w, "_label", None)
    cached = getattr(core, "_cached_lines", None)
    if not cached:
        return None
    try:
        return [plain("".join(word.text for word in line.words)) for line in cached]
    except AttributeError:
        return None


def plain(text: str) -> str:
    return MARKUP.sub("", text).replace("&bl;", "[").replace("&br;", "]").replace("&amp;", "&")


def _visible(w: Any) -> bool:
    node = w
    while node is not None and node is not Window:
        if getattr(node, "opacity", 1) <= 0.01:
            return False
        node = node.parent
    return w.width > 0 and w.height > 0


def to_screen(x: float, y: float) -> tuple[float, float]:
    """A point in Kivy's window coordinates (origin bottom-left, turned by Window.rotation) to where
    it is on the X screen (origin top-left). The inverse of the mapping Kivy applies to pointer and
    touch positions (MotionEvent.to_absolute_pos over the window's unturned system_size), so a
    click there reaches the widget at (x, y)."""
    sw, sh = Window.system_size
    r = Window.rotation
    if r == 90:
        sx, sy = sw - y, sh - x
    elif r == 180:
        sx, sy = sw - x, y
    elif r == 270:
        sx, sy = y, x
    else:
        sx, sy = x, sh - y
    return Window.left + sx, Window.top + sy


def _screen_rect(rect: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x, y, w, h = rect
    (ax, ay), (bx, by) = to_screen(x, y), to_screen(x + w, y + h)
    return min(ax, bx), min(ay, by), abs(bx - ax), abs(by - ay)


def _window_rect(w: Any) -> tuple[float, float, float, float]:
    x, y = w.to_window(w.x, w.y)
    return x, y, float(w.width), float(w.height)


def _clip(w: Any, rect: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
    x, y, ww, hh = rect
    x2, y2 = x + ww, y + hh
    node = w.parent
    while node is not None and node is not Window:
        if isinstance(node, StencilView):
            sx, sy, sw, sh = _window_rect(node)
            x, y, x2, y2 = max(x, sx), max(y, sy), min(x2, sx + sw), min(y2, sy + sh)
        node = node.parent
    if x2 <= x or y2 <= y:
        return None
    return x, y, x2 - x, y2 - y


class TestProbe:
    def __init__(self, app: Any, path: str) -> None:
        self.app = app
        self.path = Path(path)
        self.events_path = Path(str(path) + ".events")
        self.seq = 0
        self._last = ""
        self._dirty = True
        self._busy = 0
        self._lock = threading.Lock()
        self.touches = 0
        self.soak: Any = None
        from kiosk.testing.memory import track_fonts

        track_fonts()
        Window.bind(on_flip=self._flipped, on_touch_up=self._touched)
        Clock.schedule_interval(self._write, 0.02)
        self.server = None
        try:
            from drivers.sim.control import ControlServer

            self.server = ControlServer(self._request, str(path) + ".sock", name="kiosk-test").start()
        except OSError as exc:
            log.warning("test control socket not started: %s", exc)

    # ------------------------------------------------------------------ the widget map

    def _flipped(self, *_: Any) -> None:
        self._dirty = True

    def _touched(self, *_: Any) -> None:
        # runs just before the widgets' own touch-up handlers; the map is written after this frame's
        # input has been handled, so the count and the button's effect appear in the same map
        self.touches += 1
        self._dirty = True

    def snapshot(self) -> dict[str, Any]:
        app = self.app
        widgets: dict[str, Any] = {}

        def add(name: str, w: Any) -> None:
            rect = _window_rect(w)
            clip = _clip(w, rect)
            if clip is None:
                return
            x, y, ww, hh = _screen_rect(rect)
            cx_, cy_, cw, ch = clip
            cx, cy = to_screen(cx_ + cw / 2, cy_ + ch / 2)
            clipped = any(abs(a - b) > 0.5 for a, b in zip(clip, rect))  # not float noise: a stencil cut it
            entry = {"x": round(x), "y": round(y), "w": round(ww), "h": round(hh), "cx": round(cx), "cy": round(cy),
                     "clipped": clipped, "disabled": bool(getattr(w, "disabled", False)),
                     "button": isinstance(w, ButtonBehavior)}
            text = getattr(w, "text", None)
            if isinstance(text, str):
                entry["text"] = plain(text)
                ts = getattr(w, "texture_size", None)
                if ts is not None:
                    entry["tw"], entry["th"] = round(ts[0]), round(ts[1])
                if text:
                    lines = rendered_lines(w)
                    if lines is not None:
                        entry["lines"] = lines
                    entry["fs"] = round(float(getattr(w, "font_size", 0) or 0), 1)
                    sizes = [int(v) for v in SIZE_TAG.findall(text)]
                    if sizes:
                        entry["fs2"] = min(sizes)  # the second language's size (markup)
            style = getattr(w, "style", None)
            if isinstance(style, str):
                entry["style"] = style
            if getattr(w, "pinned", False):
                entry["pinned"] = True
            if clipped:  # the part a scroll view shows
                entry["vis"] = [round(v) for v in _screen_rect(clip)]
            widgets[name] = entry

        # what can be touched: the screen saver, else an overlay, else the screens (+ banner, sim panel)
        if app.saver is not None:
            stack = [app.saver]
        elif app.overlay is not None:
            stack = [app.overlay]
        else:
            stack = [c for c in Window.children]
        keyboards = []
        while stack:
            w = stack.pop()
            if getattr(w, "opacity", 1) <= 0.01:
                continue
            if isinstance(w, Screen) and w.manager is not None and w.manager.current != w.name:
                continue  # a screen being switched away from
            if isinstance(w, ImeKeyboard):
                keyboards.append(w)
            tid = getattr(w, "tid", "")
            if tid and _visible(w):
                add(tid, w)
            stack.extend(w.children)
        keys: dict[str, Any] = {}
        keyboard_rect = None
        for kb in keyboards:
            if kb.parent is None or not _visible(kb):
                continue
            kx, ky, kw_, kh = _window_rect(kb)
            sx, sy, sw, sh = _screen_rect((kx, ky, kw_, kh))
            keyboard_rect = {"x": round(sx), "y": round(sy), "w": round(sw), "h": round(sh)}
            cands = kb.candidate_texts()  # the pinyin candidates, or the writing pad's
            for kid, (x, y) in kb.key_centres().items():
                cx, cy = to_screen(x, y)
                item = {"cx": round(cx), "cy": round(cy)}
                if kid.startswith("cand"):
                    i = int(kid[4:])
                    item["text"] = cands[i] if i < len(cands) else ""
                keys[f"key:{kid}"] = item
            if kb.entry is not None:
                keys["key:_layout"] = {"text": "handwriting" if kb.handwriting else kb.entry.layout.name}
        return {"screen": app.sm.current, "overlay": app.overlay_name, "lang": app.lang, "touches": self.touches,
                # the window on the X screen (unturned), and the size the app lays out in (turned)
                "window": [Window.left, Window.top, *Window.system_size], "size": list(Window.size),
                "rotation": Window.rotation, "busy": app.worker.pending,
                "wipes": app.wipes, "widgets": widgets, "keys": keys, "keyboard": keyboard_rect,
                "guarded": bool(getattr(app, "guarded", False))}

    def _write(self, _dt: float) -> None:
        busy = self.app.worker.pending
        if not self._dirty and busy == self._busy:
            return
        self._dirty = False
        self._busy = busy
        data = self.snapshot()
        text = json.dumps(data, ensure_ascii=False, sort_keys=True)
        if text == self._last:
            return
        self._last = text
        self.seq += 1
        data["seq"] = self.seq
        data["t"] = time.monotonic()
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)

    def event(self, name: str, **data: Any) -> None:
        self._dirty = True  # e.g. "guard_over": the map says touches are taken again
        line = json.dumps({"ev": name, "t": time.monotonic(), **data}, ensure_ascii=False)
        with self._lock, self.events_path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    # ------------------------------------------------------------------ the control socket

    def _request(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict):
            return {"ok": False, "error": "request must be an object"}
        cmd = request.get("cmd")
        if cmd == "rss":
            return {"ok": True, "rss_kb": rss_kb()}
        done = threading.Event()
        box: dict[str, Any] = {}

        def on_ui(_dt: float) -> None:
            try:
                box["reply"] = self._on_ui(cmd, request, done, box)
            except Exception as exc:  # report, do not crash the app
                box["reply"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            if cmd != "soak":
                done.set()

        Clock.schedule_once(on_ui, 0)
        if not done.wait(float(request.get("timeout", 30))):
            return {"ok": False, "error": "timed out"}
        return box.get("final") or box.get("reply", {"ok": False, "error": "no reply"})

    def _on_ui(self, cmd: str, request: dict[str, Any], done: threading.Event, box: dict[str, Any]) -> dict[str, Any]:
        app = self.app
        if cmd == "find_text":
            return {"ok": True, **find_text(app, str(request["text"]))}
        if cmd == "raise":
            def boom(_dt: float) -> None:
                raise RuntimeError("test: an error in a UI callback")
            Clock.schedule_once(boom, 0)
            return {"ok": True}
        if cmd == "hold":  # both worker threads wait (as behind the gateway's write lock) until "release"
            self._held = threading.Event()
            pool = app.worker._pool
            for _ in range(pool._max_workers):
                pool.submit(self._held.wait, 30)
            return {"ok": True}
        if cmd == "release":
            held = getattr(self, "_held", None)
            if held is not None:
                held.set()
            return {"ok": True}
        if cmd == "idle_soon":  # as if nobody had touched the screen until just before "Still there?"
            app.last_activity = time.monotonic() - (app.cfg.kiosk.idle_timeout_s - app.warning_s()) - 0.2
            return {"ok": True}
        if cmd == "idle_for":  # as if nobody had touched the screen for `s` seconds
            app.last_activity = time.monotonic() - float(request["s"])
            return {"ok": True}
        if cmd == "saver":
            app.show_saver()
            return {"ok": True}
        if cmd == "dim":
            app.dim_layer.opacity = 1 if request.get("on", True) else 0
            return {"ok": True}
        if cmd == "frame_time":  # draw and present the window n times now: seconds per frame
            samples = []
            for _ in range(int(request.get("n", 30))):
                t0 = time.perf_counter()
                Window.dispatch("on_draw")
                Window.flip()
                samples.append(time.perf_counter() - t0)
            return {"ok": True, "screen": app.sm.current, "samples": samples}
        if cmd == "memory":  # where the resident memory is (kiosk/testing/memory.py): for the memory benchmark
            from kiosk.testing.memory import report

            return {"ok": True, **report(app, int(request.get("top", 25)))}
        if cmd == "state":
            return {"ok": True, "screen": app.sm.current, "overlay": app.overlay_name, "wipes": app.wipes,
                    "rss_kb": rss_kb(), "screens": len(app.sm.screens)}
        if cmd == "soak":
            from kiosk.testing.soak import Soak

            def finished(result: dict[str, Any]) -> None:
                box["final"] = {"ok": True, **result}
                done.set()

            # held here: Kivy's clock holds its callbacks weakly, and a full collection would end the flows
            self.soak = Soak(app, int(request.get("flows", 100)), on_done=finished, first=int(request.get("first", 0)))
            return {"ok": True}
        return {"ok": False, "error": f"unknown cmd {cmd!r}"}


def find_text(app: Any, needle: str) -> dict[str, Any]:
    """Where a text still lives: widget texts, the input method's entries, any Python container."""
    gc.collect()
    widgets = []
    stack = list(app.root_layout.walk(restrict=True)) if app.root_layout else []
    for screen in app.sm.screens:
        stack.extend(screen.walk(restrict=True))
    for w in stack:
        for attr in ("text", "placeholder", "zh", "en", "value"):
            v = getattr(w, attr, None)
            if isinstance(v, str) and needle in v:
                widgets.append(f"{type(w).__name__}.{attr}")
    holders = 0
    kinds: list[str] = []
    for obj in gc.get_objects():
        try:
            for ref in gc.get_referents(obj):
                if isinstance(ref, str) and needle in ref and ref is not needle:
                    holders += 1
                    kinds.append(_describe(obj))
                    break
        except Exception:
            continue
    return {"widgets": widgets, "holders": holders, "kinds": kinds[:10]}


def _describe(obj: Any) -> str:
    """What kind of container holds a text (type and, for dicts, the names of their keys; no values)."""
    name = type(obj).__name__
    if isinstance(obj, dict):
        keys = [k for k in obj if isinstance(k, str)][:8]
        return f"dict{keys}"
    if hasattr(obj, "f_code"):
        return f"frame {obj.f_code.co_filename.rsplit('/', 1)[-1]}:{obj.f_code.co_name}"
    if name == "LayoutWord":  # find the label that laid it out
        from kivy.uix.widget import Widget

        seen, layer = set(), [obj]
        for _ in range(6):
            nxt = []
            for o in layer:
                for r in gc.get_referrers(o):
                    if id(r) in seen or r is layer:
                        continue
                    seen.add(id(r))
                    if isinstance(r, Widget):
                        return f"LayoutWord of {type(r).__name__}"
                    if hasattr(r, "_cached_lines") or isinstance(r, (list, dict)) or type(r).__name__ == "LayoutLine":
                        nxt.append(r)
            layer = nxt
            for o in layer:
                if hasattr(o, "_cached_lines"):
                    owners = [type(w).__name__ for w in gc.get_referrers(o) if isinstance(w, Widget)]
                    text = getattr(o, "text", None)
                    return f"LayoutWord of core label {type(o).__name__} (widget {owners}, text empty: {not text})"
    return name
