"""A tiny app to try the keyboard: one text field and the on-screen keyboard.

    python -m kiosk.ime.demo [--kind name|text|code|phone] [--max-length 40] [--size 800x480]
                             [--state state.json] [--keys keys.json] [--font PATH]

--state: the field's state is written there (JSON, atomically) after every change;
--keys: the screen coordinates (X11: origin top-left) of every visible key and candidate
slot, rewritten whenever they move. UI tests drive the app with xdotool clicks there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

PROMPTS = {
    "name": ("请输入您的姓名", "Please enter your name"),
    "text": ("请描述您遇到的情况", "Please describe the problem"),
    "code": ("请输入施工许可证号", "Please enter the work permit number"),
    "phone": ("请输入您的手机号", "Please enter your mobile number"),
}


def _write_json(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m kiosk.ime.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--kind", default="name", choices=sorted(PROMPTS))
    ap.add_argument("--max-length", type=int, default=40)
    ap.add_argument("--size", default="800x480")
    ap.add_argument("--state", type=Path)
    ap.add_argument("--keys", type=Path)
    ap.add_argument("--font", default=None)
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    from kivy.config import Config
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "position", "custom")
    Config.set("graphics", "left", "0")
    Config.set("graphics", "top", "0")
    Config.set("graphics", "borderless", "1")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "exit_on_escape", "0")

    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.label import Label

    from kiosk.ime.fonts import DEFAULT_FONT, cjk_font
    from kiosk.ime.keyboard import TextEntry
    from kiosk.ime.widgets import EntryDisplay, ImeKeyboard

    font = cjk_font(args.font or DEFAULT_FONT)

    class DemoApp(App):
        title = "输入法演示 Input method demo"

        def build(self):
            Window.clearcolor = (0.95, 0.96, 0.97, 1)
            self.entry = TextEntry(kind=args.kind, max_length=args.max_length)
            self.submitted: str | None = None
            root = BoxLayout(orientation="vertical", padding=(12, 8), spacing=6)
            zh, en = PROMPTS[args.kind]
            root.add_widget(Label(text=f"{zh}  {en}", font_name=font, font_size="20sp", color=(0.1, 0.1, 0.12, 1),
                                  size_hint_y=None, height=36, halign="left", valign="middle",
                                  text_size=(width - 24, 36)))
            self.field = EntryDisplay(entry=self.entry, font_name=font, font_size="26sp", size_hint_y=None,
                                      height=52, placeholder=f"{zh} {en}")
            root.add_widget(self.field)
            root.add_widget(Label())  # takes the slack
            self.keyboard = ImeKeyboard(entry=self.entry, font_name=font)
            self.keyboard.bind(on_submit=self._submit)
            outer = BoxLayout(orientation="vertical")
            outer.add_widget(root)
            outer.add_widget(self.keyboard)
            self.entry.bind(on_change=lambda e: self._dump())
            Window.bind(on_draw=self._after_draw)
            self._keys_dirty = True
            return outer

        def _submit(self, _kb, text):
            self.submitted = text
            self._dump()

        def _dump(self):
            self._keys_dirty = True
            if args.state:
                state = self.entry.snapshot()
                state["submitted"] = self.submitted
                _write_json(args.state, state)

        def _after_draw(self, *_):
            if not (self._keys_dirty and args.keys):
                return
            self._keys_dirty = False
            # one more frame so the layout has settled, then write screen coordinates
            Clock.schedule_once(lambda dt: self._write_keys(), 0)

        def _write_keys(self):
            wx, wy = Window.left, Window.top
            sx = Window.system_size[0] / float(Window.width or 1)
            keys = {}
            for kid, (x, y) in self.keyboard.key_centres().items():
                keys[kid] = [int(wx + x * sx), int(wy + (Window.height - y) * sx)]
            _write_json(args.keys, {"layout": self.entry.layout.name, "window": [Window.width, Window.height],
                                    "key_height": self.keyboard.effective_key_height, "keys": keys})

        def on_start(self):
            self._dump()

    DemoApp().run()


if __name__ == "__main__":
    main(sys.argv[1:])
