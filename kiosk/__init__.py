"""The touchscreen: a Kivy app whose screens draw what the lobby's services decide.

Owns: the app and its parts (navigation, idle wipe, lockdown, taps, evacuation
banner), the screens (`screens/`, .kv beside each), widgets, the input method
(`ime/`: pinyin and keyboards), the UI catalogue (`i18n/`), and the test and demo
hooks (`testing/`, loaded only under --simulate or a test map).
May import: lobby, mqtt_bridge, drivers, kivy. Nothing below imports kiosk, except
`lobby kiosk` (lobby.cli.kiosk_cmd), the one composition root that launches it.
"""
