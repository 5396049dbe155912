"""The process's resident memory, for the test probe, the soak flows and the memory benchmark.

`report()` says where the resident memory is (test mode only: the control socket's "memory"
command): the kernel's view (/proc/self/smaps: anonymous against file-backed, the largest
mappings), the Python heap (tracemalloc, when the kiosk was started with PYTHONTRACEMALLOC),
Kivy's caches, and the widgets, textures and fonts alive.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

_HEADER = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")


def rss_kb() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def smaps(top: int = 25) -> dict[str, Any]:
    """Resident kB per mapping name (the file, [heap], or "anon" for nameless ones), anonymous and total."""
    rss: dict[str, int] = defaultdict(int)
    anon: dict[str, int] = defaultdict(int)
    count: Counter[str] = Counter()
    name = "anon"
    size = 0
    nameless: Counter[str] = Counter()  # resident kB of the nameless mappings, by mapping size
    try:
        text = Path("/proc/self/smaps").read_text()
    except OSError:
        return {}
    for line in text.splitlines():
        if _HEADER.match(line):
            parts = line.split(None, 5)
            name = parts[5].strip() if len(parts) > 5 else "anon"
            count[name] += 1
        elif line.startswith("Size:"):
            size = int(line.split()[1])
        elif line.startswith("Rss:"):
            rss[name] += int(line.split()[1])
            if name == "anon":
                nameless[f"{size}kB"] += int(line.split()[1])
        elif line.startswith("Anonymous:"):
            anon[name] += int(line.split()[1])
    biggest = sorted(rss, key=rss.__getitem__, reverse=True)[:top]
    return {"rss_kb": sum(rss.values()), "anon_kb": sum(anon.values()),
            "file_kb": sum(rss.values()) - sum(anon.values()),
            "anon_nameless_maps": count["anon"],
            "top": [[n, rss[n], anon[n], count[n]] for n in biggest],
            # 1024 kB: Python's arenas; odd sizes: glibc's thread arenas; large round ones: big allocations
            "nameless_rss_by_size": nameless.most_common(top)}


def python_heap(top: int = 25) -> dict[str, Any]:
    import tracemalloc

    if not tracemalloc.is_tracing():
        return {"tracing": False}
    snap = tracemalloc.take_snapshot()
    total = sum(s.size for s in snap.statistics("filename"))
    by_file = snap.statistics("filename")[:top]
    by_line = snap.statistics("lineno")[:top]
    return {"tracing": True, "total_kb": total // 1024,
            "files": [[str(s.traceback[0].filename).split("site-packages/")[-1], s.size // 1024, s.count]
                      for s in by_file],
            "lines": [[f"{str(s.traceback[0].filename).split('site-packages/')[-1]}:{s.traceback[0].lineno}",
                       s.size // 1024, s.count] for s in by_line]}


def kivy_state(app: Any) -> dict[str, Any]:
    """Kivy's caches, and the widgets and their label textures under the window and the shared keyboard
    (walked, not found through gc: what start-up built is frozen out of gc's lists, lobby/heap.py)."""
    from kivy.cache import Cache
    from kivy.core.window import Window

    caches = {name: len(objs) for name, objs in Cache._objects.items()}
    textures = 0
    texels = 0
    big: Counter[str] = Counter()  # textures of 64x64 texels or more, by size
    widgets: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    seen: set[int] = set()
    stack = [*Window.children, app.keyboard.kb]
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        widgets[type(w).__name__] += 1
        texture = getattr(w, "texture", None)
        if texture is not None and hasattr(texture, "width"):
            textures += 1
            texels += texture.width * texture.height
            if texture.width * texture.height >= 64 * 64:
                big[f"{texture.width}x{texture.height}"] += 1
        core = getattr(w, "_label", None)
        if core is not None and getattr(w, "text", ""):
            sizes[str(round(float(core.options.get("font_size") or 0), 1))] += 1
        stack.extend(w.children)
    per_screen = {s.name: sum(1 for _ in s.walk(restrict=True)) for s in app.sm.screens}
    return {"caches": caches, "textures": textures, "texture_mb": round(texels * 4 / 2**20, 1),
            "big_textures": big.most_common(12), "widgets": sum(widgets.values()),
            "widget_types": widgets.most_common(15), "screens": per_screen,
            "font_sizes": sorted(sizes, key=float)}


_font_ids: list[str] = []  # every font the SDL2 text provider was asked for, in order (track_fonts)


def track_fonts() -> None:
    """Record the font ids Kivy's SDL2 text provider opens a font for (it keeps 64 open, oldest out)."""
    from kivy.core.text import Label as CoreLabel

    original = CoreLabel._get_font_id
    if getattr(original, "_kiosk_tracked", False) or CoreLabel.__name__ != "LabelSDL2":
        return
    seen: set[str] = set()

    def _get_font_id(self: Any) -> str:
        fid = original(self)
        if fid not in seen:
            seen.add(fid)
            _font_ids.append(fid)
        return fid

    _get_font_id._kiosk_tracked = True  # type: ignore[attr-defined]
    CoreLabel._get_font_id = _get_font_id  # type: ignore[method-assign]


def fonts_opened() -> list[str]:
    """The font ids asked for so far ("size|file name|bold|..."), the newest 64 being the open ones."""
    return [f"{Path(fid.split('|')[1]).name}@{fid.split('|')[0]}{' bold' if fid.split('|')[2] == 'True' else ''}"
            for fid in _font_ids]


def modules() -> list[tuple[str, int]]:
    """Modules imported, by top-level package (their code and data are most of the Python heap at start)."""
    import sys

    return Counter(name.split(".")[0] for name in list(sys.modules)).most_common(40)


def report(app: Any, top: int = 25) -> dict[str, Any]:
    return {"rss_kb": rss_kb(), "smaps": smaps(top), "python": python_heap(top), "kivy": kivy_state(app),
            "fonts_opened": fonts_opened(), "modules": modules()}
