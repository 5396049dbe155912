"""Test and demo hooks of the kiosk, kept out of the product's start-up path.

Loaded only when the kiosk runs with --simulate (the simulator panel) or with
LOBBY_KIOSK_TEST_MAP set (the widget map, the control socket and the soak flows
that the UI tests and the benchmark drive). Nothing in a normal start imports them.
May import: kiosk, lobby, drivers (simulator control clients), kivy.
"""
