"""The staff screen's pictures, drawn with Kivy's canvas: what a glance should tell.

- `Sparkline`: one meter's use per 15 minutes today, the night-leak window shaded.
- `FloorPlanView`: the floor plan (an image, or an outline) with a dot per device:
  green good, amber degraded, red lost, grey unknown.
- `PatrolTimeline`: tonight from 18:00 to 08:00; each round's due window as a bar, its
  start as a dot in the colour of its state, "now" as a line.
- `Gauge`: satisfaction as an arc against the target tick.

They only draw what lobby.dashboard decided; texts that matter are KLabels beside them
(kiosk/screens/staff.kv), so the layout checks see them. Each redraws on size or data
changes only, reusing its instructions.
"""

from __future__ import annotations

import math
from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Ellipse, InstructionGroup, Line, Rectangle
from kivy.properties import ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.widget import Widget

STATE_RGBA = {"ok": (0.09, 0.55, 0.25, 1), "up": (0.09, 0.55, 0.25, 1), "completed": (0.09, 0.55, 0.25, 1),
              "degraded": (0.90, 0.55, 0.05, 1), "open": (0.05, 0.40, 0.75, 1), "waiting": (0.90, 0.55, 0.05, 1),
              "lost": (0.75, 0.05, 0.12, 1), "down": (0.75, 0.05, 0.12, 1), "abandoned": (0.75, 0.05, 0.12, 1),
              "not_started": (0.75, 0.05, 0.12, 1), "upcoming": (0.55, 0.58, 0.63, 1),
              "unknown": (0.55, 0.58, 0.63, 1), "closed": (0.55, 0.58, 0.63, 1)}
INK = (0.08, 0.10, 0.14, 1)
MUTED = (0.45, 0.48, 0.53, 1)
GRID = (0.86, 0.88, 0.91, 1)
NIGHT = (0.80, 0.84, 0.95, 1)


def state_rgba(state: str) -> tuple[float, float, float, float]:
    return STATE_RGBA.get(state, STATE_RGBA["unknown"])


def _text(group: InstructionGroup, text: str, x: float, y: float, size: float, rgba: Any = MUTED,
          anchor: str = "left", font: str = "Roboto") -> None:
    """A small drawn caption (hour marks, dot labels): one texture per call, made only on redraw."""
    label = CoreLabel(text=text, font_size=size, font_name=font)
    label.refresh()
    tex = label.texture
    if tex is None:
        return
    w, h = tex.size
    x = x - w / 2 if anchor == "center" else (x - w if anchor == "right" else x)
    group.add(Color(*rgba))
    group.add(Rectangle(texture=tex, pos=(round(x), round(y - h / 2)), size=(w, h)))


class _Chart(Widget):
    font_name = StringProperty("Roboto")
    tid = StringProperty("")

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._group = InstructionGroup()
        self.canvas.add(self._group)
        self.bind(pos=self._later, size=self._later)

    def _later(self, *_: Any) -> None:
        self._redraw()  # at once: a few dozen instructions, only when the data or the size changed

    def _redraw(self, *_: Any) -> None:
        self._group.clear()
        if self.width > 4 and self.height > 4:
            self.draw(self._group)

    def draw(self, g: InstructionGroup) -> None:
        raise NotImplementedError


class Sparkline(_Chart):
    values = ListProperty([])  # per slot, None for no reading
    night = ObjectProperty(None, allownone=True)  # (start slot, end slot)
    now_slot = NumericProperty(0)
    rgba = ListProperty([0.05, 0.33, 0.64, 1])

    def on_values(self, *_: Any) -> None:
        self._later()

    def draw(self, g: InstructionGroup) -> None:
        n = max(1, len(self.values))
        x0, y0, w, h = self.x, self.y + 2, self.width, self.height - 4
        step = w / n
        g.add(Color(0.97, 0.98, 0.99, 1))
        g.add(Rectangle(pos=(x0, self.y), size=(w, self.height)))
        if self.night:
            a, b = self.night
            g.add(Color(*NIGHT))
            spans = [(a, b)] if a < b else [(a, n), (0, b)]
            for s, e in spans:
                g.add(Rectangle(pos=(x0 + s * step, self.y), size=((e - s) * step, self.height)))
        g.add(Color(*GRID))
        for hour in (6, 12, 18):
            x = x0 + hour * 4 * step
            g.add(Line(points=[x, self.y, x, self.y + self.height], width=1))
        top = max([v for v in self.values if v] or [0])
        g.add(Color(*self.rgba))
        if top > 0:
            run: list[float] = []
            for i, v in enumerate(self.values):
                if v is None:
                    if len(run) >= 4:
                        g.add(Line(points=run, width=1.4))
                    run = []
                    continue
                run += [x0 + (i + 0.5) * step, y0 + h * (v / top)]
            if len(run) >= 4:
                g.add(Line(points=run, width=1.4))
            elif len(run) == 2:
                g.add(Ellipse(pos=(run[0] - 2, run[1] - 2), size=(4, 4)))
        else:
            g.add(Line(points=[x0, y0, x0 + min(self.now_slot + 1, n) * step, y0], width=1.2))
        g.add(Color(*INK))
        x = x0 + (self.now_slot + 0.5) * step
        g.add(Line(points=[x, self.y, x, self.y + self.height], width=1, dash_length=3, dash_offset=3))


class FloorPlanView(_Chart):
    plan = ObjectProperty(None, allownone=True)  # lobby.dashboard.FloorPlan
    caption_size = NumericProperty(12)

    def on_plan(self, *_: Any) -> None:
        self._later()

    def draw(self, g: InstructionGroup) -> None:
        plan = self.plan
        g.add(Color(1, 1, 1, 1))
        g.add(Rectangle(pos=self.pos, size=self.size))
        if plan is not None and plan.image:
            g.add(Color(1, 1, 1, 1))
            g.add(Rectangle(source=plan.image, pos=self.pos, size=self.size))
        else:  # an outline: the walls
            g.add(Color(*MUTED))
            g.add(Line(rectangle=(self.x + 4, self.y + 4, self.width - 8, self.height - 8), width=2))
        g.add(Color(*GRID))
        g.add(Line(rectangle=(self.x, self.y, self.width, self.height), width=1))
        if plan is None:
            return
        r = max(6.0, min(self.width, self.height) * 0.035)
        for p in plan.points:
            cx = self.x + p.x * self.width
            cy = self.y + (1 - p.y) * self.height
            g.add(Color(1, 1, 1, 1))
            g.add(Ellipse(pos=(cx - r - 2, cy - r - 2), size=(2 * r + 4, 2 * r + 4)))
            g.add(Color(*state_rgba(p.state)))
            g.add(Ellipse(pos=(cx - r, cy - r), size=(2 * r, 2 * r)))
            right = p.x < 0.7
            _text(g, p.label, cx + (r + 4 if right else -r - 4), cy, self.caption_size, INK,
                  "left" if right else "right", self.font_name)


class PatrolTimeline(_Chart):
    night = ObjectProperty(None, allownone=True)  # lobby.dashboard.PatrolNight
    caption_size = NumericProperty(12)

    def on_night(self, *_: Any) -> None:
        self._later()

    def draw(self, g: InstructionGroup) -> None:
        night = self.night
        if night is None:
            return
        hours = night.hours
        cap = self.caption_size
        x0, w = self.x + 4, self.width - 8
        axis_y = self.y + cap * 1.2
        top = self.y + self.height - 4

        def hx(h: float) -> float:
            return x0 + w * min(max(h, 0.0), hours) / hours

        g.add(Color(*GRID))
        for h in range(0, hours + 1, 2):
            g.add(Line(points=[hx(h), axis_y, hx(h), top], width=1))
            _text(g, f"{(night.start.hour + h) % 24:02d}", hx(h), self.y + cap * 0.6, cap, MUTED, "center",
                  self.font_name)
        g.add(Color(*MUTED))
        g.add(Line(points=[x0, axis_y, x0 + w, axis_y], width=1.2))
        rounds = night.rounds
        lanes = max(1, len(rounds))
        lane_h = min(cap * 2.2, (top - axis_y - 4) / lanes)
        for i, rd in enumerate(rounds):
            cy = top - lane_h * (i + 0.5)
            rgba = state_rgba(rd.state)
            if rd.window is not None:
                a, b = rd.window
                g.add(Color(rgba[0], rgba[1], rgba[2], 0.22))
                g.add(Rectangle(pos=(hx(a), cy - lane_h * 0.3), size=(max(2.0, hx(b) - hx(a)), lane_h * 0.6)))
            if rd.planned is not None:
                g.add(Color(*rgba))
                g.add(Line(points=[hx(rd.planned), cy - lane_h * 0.35, hx(rd.planned), cy + lane_h * 0.35], width=1.5))
            at = rd.started if rd.started is not None else rd.planned
            if at is not None:
                r = max(4.0, lane_h * 0.28)
                g.add(Color(*rgba))
                if rd.started is not None:
                    g.add(Ellipse(pos=(hx(at) - r, cy - r), size=(2 * r, 2 * r)))
                else:
                    g.add(Line(circle=(hx(at), cy, r), width=1.5))
        g.add(Color(0.75, 0.05, 0.12, 1))
        g.add(Line(points=[hx(night.now), axis_y, hx(night.now), top], width=1.5))


class Gauge(_Chart):
    pct = ObjectProperty(None, allownone=True)  # 0..100, None: no ratings yet
    target = NumericProperty(85)

    def on_pct(self, *_: Any) -> None:
        self._later()

    def on_target(self, *_: Any) -> None:
        self._later()

    def draw(self, g: InstructionGroup) -> None:
        r = min(self.width / 2, self.height) * 0.9
        cx, cy = self.center_x, self.y + (self.height - r) / 2 + 2
        width = max(4.0, r * 0.16)
        g.add(Color(*GRID))
        g.add(Line(ellipse=(cx - r, cy - r, 2 * r, 2 * r, -90, 90), width=width, cap="none"))
        if self.pct is not None:
            ok = self.pct >= self.target
            g.add(Color(*(STATE_RGBA["ok"] if ok else STATE_RGBA["degraded"])))
            g.add(Line(ellipse=(cx - r, cy - r, 2 * r, 2 * r, -90, -90 + 180 * max(0.0, min(100.0, self.pct)) / 100),
                       width=width, cap="none"))
        a = math.radians(180 - 180 * self.target / 100)
        g.add(Color(*INK))
        g.add(Line(points=[cx + (r - width * 1.6) * math.cos(a), cy + (r - width * 1.6) * math.sin(a),
                           cx + (r + width * 1.6) * math.cos(a), cy + (r + width * 1.6) * math.sin(a)], width=2))
