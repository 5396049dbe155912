"""The kiosk's text input: a pinyin input method and on-screen keyboards.

`pinyin` and `keyboard` are plain Python (no Kivy); `widgets` holds the Kivy side.
"""
