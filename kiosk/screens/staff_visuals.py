"""One picture per staff tab, built once and re-fed with each refresh's figures.

- devices: the floor plan with its device dots, then each meter's use today as a sparkline
  (name and total on the left, night-leak window shaded);
- patrol: tonight's timeline with a one-line legend;
- today: the satisfaction gauge against the target, with its figure.

Their texts are KLabels with names (tid), so the layout checks see them; the drawings are
kiosk/screens/staff_charts.py.
"""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.uix.boxlayout import BoxLayout

from kiosk import i18n
from kiosk.screens.staff_charts import FloorPlanView, Gauge, PatrolTimeline, Sparkline
from kiosk.widgets import KLabel

METER_RGBA = {"electricity": [0.85, 0.45, 0.05, 1], "water": [0.05, 0.40, 0.75, 1]}
UNITS = {"kWh": ("千瓦时", "kWh"), "m3": ("立方米", "m³"), "m³": ("立方米", "m³")}


def _app() -> Any:
    return App.get_running_app()


def _fit(box: BoxLayout) -> None:
    box.height = sum(c.height for c in box.children) + box.spacing * max(0, len(box.children) - 1)


class DevicesVisual(BoxLayout):
    def __init__(self, font: str, **kw: Any) -> None:
        super().__init__(orientation="vertical", size_hint_y=None, spacing=4, **kw)
        self.font = font
        self.plan_title = KLabel(key="staff.plan.title", role="small", tid="plan_title")
        self.plan = FloorPlanView(size_hint_y=None, font_name=font)
        self.meters_title = KLabel(key="staff.meters.title", role="small", tid="meters_title")
        self.lines: list[tuple[BoxLayout, KLabel, Sparkline]] = []
        self.bind(width=self._size)
        for w in (self.plan_title, self.plan, self.meters_title):
            w.bind(height=lambda *_: _fit(self))

    def _size(self, *_: Any) -> None:
        app = _app()
        self.plan.height = max(110.0, min(self.width * 0.42, (app.root.height if app else 480) * 0.3))
        self.plan.caption_size = max(10.0, app.fs_small * 0.85) if app else 12
        _fit(self)

    def show(self, spec: dict[str, Any]) -> None:
        self.clear_widgets()
        plan = spec.get("plan")
        if plan is not None:
            self.plan.plan = plan
            self.plan._later()
            self.add_widget(self.plan_title)
            self.add_widget(self.plan)
        meters = spec.get("meters") or []
        self.add_widget(self.meters_title)
        app = _app()
        while len(self.lines) < len(meters):
            line = BoxLayout(orientation="horizontal", size_hint_y=None, spacing=6)
            label = KLabel(role="small", size_hint_x=0.36)
            spark = Sparkline(size_hint_x=0.64)
            line.add_widget(label)
            line.add_widget(spark)
            label.bind(height=lambda w, h, ln=line: setattr(ln, "height", max(h, (app.tap * 0.7) if app else 42)))
            line.bind(height=lambda *_: _fit(self))
            self.lines.append((line, label, spark))
        for i, m in enumerate(meters):
            line, label, spark = self.lines[i]
            unit = UNITS.get(m.unit, (m.unit, m.unit))
            state = i18n.pair(f"staff.state.{m.health}") if f"staff.state.{m.health}" in i18n.STRINGS else \
                (m.health, m.health)
            total = f"{m.total:g}"
            label.tid = f"meter_{i}"
            label.zh = f"{m.meter_id} {m.place.split(' ')[0]}：{total} {unit[0]}（{state[0]}）"
            label.en = f"{m.meter_id}: {total} {unit[1]} ({state[1]})"
            spark.tid = f"spark_{i}"
            spark.rgba = METER_RGBA.get(m.kind, [0.30, 0.33, 0.38, 1])
            spark.night = m.night
            spark.now_slot = m.now_slot
            spark.values = list(m.values)
            spark._later()
            line.height = max(label.height, (app.tap * 0.7) if app else 42)
            self.add_widget(line)
        if not meters:
            self.meters_title.key = "staff.meters.none"
        else:
            self.meters_title.key = "staff.meters.title"
        _fit(self)


class PatrolVisual(BoxLayout):
    def __init__(self, font: str, **kw: Any) -> None:
        super().__init__(orientation="vertical", size_hint_y=None, spacing=4, **kw)
        self.legend = KLabel(key="staff.patrol.legend", role="small", tid="patrol_legend")
        self.timeline = PatrolTimeline(size_hint_y=None, font_name=font)
        self.timeline.tid = "patrol_timeline"
        self.add_widget(self.legend)
        self.add_widget(self.timeline)
        self.legend.bind(height=lambda *_: _fit(self))
        self.timeline.bind(height=lambda *_: _fit(self))

    def show(self, spec: dict[str, Any]) -> None:
        night = spec["night"]
        app = _app()
        cap = max(10.0, app.fs_small * 0.85) if app else 12
        self.timeline.caption_size = cap
        self.timeline.height = cap * 2.4 + cap * 2.2 * max(1, len(night.rounds)) + 8
        self.timeline.night = night
        self.timeline._later()  # every refresh repaints (the figures may be equal, the hour is not)
        _fit(self)


class TodayVisual(BoxLayout):
    def __init__(self, font: str, **kw: Any) -> None:
        super().__init__(orientation="horizontal", size_hint_y=None, spacing=10, **kw)
        self.gauge = Gauge(size_hint_x=0.4)
        self.gauge.tid = "gauge"
        texts = BoxLayout(orientation="vertical", size_hint_x=0.6)
        self.title = KLabel(role="small", tid="gauge_title")
        self.value = KLabel(role="big", tid="gauge_value")
        texts.add_widget(self.title)
        texts.add_widget(self.value)
        self.add_widget(self.gauge)
        self.add_widget(texts)
        for w in (self.title, self.value):
            w.bind(height=lambda *_: self._fit_height())

    def _fit_height(self) -> None:
        app = _app()
        self.height = max((app.tap * 2.0) if app else 120, self.title.height + self.value.height + 8)

    def show(self, spec: dict[str, Any]) -> None:
        self._fit_height()
        self.gauge._later()
        target = spec.get("target", 85)
        self.gauge.target = float(target)
        self.gauge.pct = spec.get("pct")
        self.title.key = "staff.gauge.title"
        self.title.fmt = {"target": f"{target:g}"}
        if spec.get("pct") is None:
            self.value.key = "staff.gauge.none"
            self.value.fmt = {}
        else:
            self.value.key = "staff.gauge.value"
            self.value.fmt = {"pct": spec["pct"], "n": spec.get("counted", 0)}


def make_visual(kind: str, font: str) -> Any:
    return {"devices": DevicesVisual, "patrol": PatrolVisual, "today": TodayVisual}[kind](font)
