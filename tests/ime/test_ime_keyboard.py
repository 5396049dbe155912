"""The text-entry state machine and the layouts (no Kivy)."""

from __future__ import annotations

import pytest

from kiosk.ime.keyboard import KINDS, LETTER, SPACER, TextEntry, build_layout


def type_keys(entry: TextEntry, keys: str) -> None:
    for k in keys:
        entry.press({" ": "space", "'": "apostrophe", "-": "hyphen", ".": "dot", "+": "plus"}.get(k, k))


def choose_text(entry: TextEntry, text: str) -> None:
    texts = [c.text for c in entry.page_candidates]
    assert text in texts, texts
    assert entry.choose(texts.index(text))


def test_zhangwei_by_characters():
    e = TextEntry(kind="name", max_length=40)
    type_keys(e, "zhangwei")
    assert e.composition == "zhangwei" and e.preedit == "zhang'wei"
    choose_text(e, "张")
    assert e.text == "张" and e.composition == "wei"
    assert e.context == "given"
    choose_text(e, "伟")
    assert e.text == "张伟" and e.composition == "" and e.candidates == []


def test_space_commits_first_candidate():
    e = TextEntry(kind="name")
    type_keys(e, "wangfang")
    assert e.page_candidates[0].text == "王芳"
    e.press("space")
    assert e.text == "王芳" and not e.composition


def test_backspace_composition_then_text():
    e = TextEntry(kind="text")
    type_keys(e, "beijing ")
    assert e.text == "北京"
    type_keys(e, "sha")
    for expected in ("sh", "s", ""):
        assert e.press("backspace")
        assert e.composition == expected and e.text == "北京"
    assert e.press("backspace") and e.text == "北"
    assert e.press("backspace") and e.text == ""
    assert not e.press("backspace")


def test_paging():
    e = TextEntry(kind="text", page_size=5)
    type_keys(e, "shi")
    assert e.page_count > 3 and not e.has_prev_page and e.has_next_page
    first = [c.text for c in e.page_candidates]
    assert e.next_page() and e.page == 1
    second = [c.text for c in e.page_candidates]
    assert len(second) == 5 and not set(first) & set(second)
    e.choose(0)
    assert e.text == second[0] and e.page == 0
    type_keys(e, "shi")
    while e.next_page():
        pass
    assert e.page == e.page_count - 1 and not e.next_page()
    assert e.prev_page() and e.page == e.page_count - 2
    e.press("a")  # typing goes back to the first page
    assert e.page == 0
    assert not e.choose(99) and not e.choose(-1)


def test_page_size_change_resets_page():
    e = TextEntry(kind="text")
    type_keys(e, "shi")
    e.next_page()
    e.page_size = 8
    assert e.page == 0 and len(e.page_candidates) == 8


def test_max_length_chinese():
    e = TextEntry(kind="name", max_length=3)
    type_keys(e, "lixiaolong")
    texts = [c.text for c in e.candidates]
    assert "李小龙" in texts or "李晓龙" in texts
    assert all(len(t) <= 3 for t in texts)
    e.press("space")
    assert len(e.text) == 3
    assert not e.press("a") and e.composition == ""  # full: no more letters
    e.press("backspace")
    type_keys(e, "zhangsan")
    assert all(len(c.text) <= 1 for c in e.candidates)  # only one character fits
    e.press("space")
    assert len(e.text) == 3


def test_max_length_latin_and_digits():
    e = TextEntry(kind="name", max_length=5, layout="en")
    type_keys(e, "abcdefgh")
    assert e.text == "Abcde"
    p = TextEntry(kind="phone", max_length=11)
    type_keys(p, "138001380001234")
    assert p.text == "13800138000"


def test_enter_commits_letters_then_submits():
    submitted: list[str] = []
    e = TextEntry(kind="text")
    e.bind(on_submit=lambda en: submitted.append(en.text))
    type_keys(e, "abc")
    e.press("enter")
    assert e.text == "abc" and not e.composition and submitted == []
    e.press("enter")
    assert submitted == ["abc"]


def test_invalid_letters_commit_as_latin():
    e = TextEntry(kind="text")
    type_keys(e, "iii")
    assert [c.text for c in e.candidates] == ["iii"]
    e.press("space")
    assert e.text == "iii"


def test_language_toggle():
    e = TextEntry(kind="name")
    assert e.layout.name == "zh" and e.layout_names == ("zh", "en")
    assert e.layout.key("toggle").label == "EN"
    type_keys(e, "zh")
    assert e.press("toggle")
    assert e.layout.name == "en" and e.text == "zh" and e.composition == ""  # pending letters kept
    assert e.clear()
    type_keys(e, "li lei")
    assert e.text == "Li Lei"  # Latin names: a capital at the start of each word
    assert e.layout.key("toggle").label == "中"
    e.press("toggle")
    assert e.layout.name == "zh"
    t = TextEntry(kind="text")
    names = []
    for _ in range(3):
        t.press("toggle")
        names.append(t.layout.name)
    assert names == ["en", "digits", "zh"]
    assert not TextEntry(kind="phone").press("toggle")


def test_shift_and_caps():
    e = TextEntry(kind="code", layout="en")
    type_keys(e, "a")
    e.press("shift")
    type_keys(e, "bc")
    assert e.text == "aBc"
    e.press("shift")
    e.press("shift")  # twice: caps lock
    type_keys(e, "de")
    assert e.text == "aBcDE"
    e.press("shift")
    type_keys(e, "f")
    assert e.text == "aBcDEf"


def test_digits_layout_rejects_letters():
    e = TextEntry(kind="phone", max_length=20)
    for key in ("a", "z", "space", "apostrophe", "shift", "hyphen", "nonsense", "", "\x00"):
        assert not e.press(key)
    type_keys(e, "+8613800138000")
    assert e.text == "+8613800138000"
    assert e.press("clear") and e.text == ""
    assert not e.insert_text("abc\x00")
    assert e.insert_text("+86 138-0013-8000") and e.text == "+8613800138000"


def test_punctuation_commits_the_composition_first():
    e = TextEntry(kind="text")
    type_keys(e, "loushui")
    e.press("comma")
    assert e.text == "漏水，"
    n = TextEntry(kind="name")
    assert n.layout.key("middot") and not n.layout.key("comma")


def test_spaces_are_never_leading_or_doubled():
    e = TextEntry(kind="name", layout="en")
    assert not e.press("space")
    type_keys(e, "a  b")
    assert e.text == "A B"


def test_insert_text_drops_control_characters():
    e = TextEntry(kind="text", max_length=10)
    assert e.insert_text("a\x00b\x1b[31mc\u202ed\u200be\nf\ue000g")
    assert e.text == "ab[31mcdef"[:10] or e.text == "ab[31mcdefg"[:10]
    assert all(ord(ch) >= 32 for ch in e.text) and "\u202e" not in e.text and "\u200b" not in e.text
    assert len(e.text) == 10
    assert not e.insert_text(None)  # type: ignore[arg-type]


def test_change_listener_and_snapshot():
    seen: list[dict] = []
    e = TextEntry(kind="name")
    e.bind(on_change=lambda en: seen.append(en.snapshot()))
    type_keys(e, "li")
    assert seen[-1]["composition"] == "li" and seen[-1]["candidates"][0] == "李"
    e.unbind(on_change=e._on_change[0])
    e.press("a")
    assert len(seen) == 2


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_layout_geometry(kind):
    for name in KINDS[kind]:
        layout = TextEntry(kind=kind).layouts[name]
        ids = [k.id for k in layout.keys]
        assert len(ids) == len(set(ids)), ids
        for row in layout.rows:
            assert abs(sum(k.width for k in row) - layout.units) < 1e-9, (name, [k.id for k in row])
        if name in ("zh", "en"):
            assert {k.value for k in layout.keys if k.action == LETTER} == set("abcdefghijklmnopqrstuvwxyz")
            assert {"space", "backspace", "apostrophe", "enter"} <= set(ids)
        if name == "en":
            assert {"hyphen", "dot"} <= set(ids)
        if name == "digits":
            assert {str(d) for d in range(10)} | {"plus", "backspace", "clear"} <= set(ids)


def test_bad_arguments():
    with pytest.raises(ValueError):
        TextEntry(kind="poem")
    with pytest.raises(ValueError):
        TextEntry(max_length=0)
    with pytest.raises(ValueError):
        TextEntry(layouts=("klingon",))
    with pytest.raises(ValueError):
        build_layout("klingon")
    assert build_layout("digits").key("spacer-toggle").action == SPACER


def test_pin_pad_is_digits_only():
    """The staff PIN pad: 0-9, delete, clear, Done, and no "+" (a PIN is digits)."""
    e = TextEntry(kind="pin", max_length=12)
    ids = {k.id for k in e.layout.keys if k.action != SPACER}
    assert ids == {str(d) for d in range(10)} | {"backspace", "clear", "enter"}
    assert not e.press("plus") and not e.toggle()
    for k in "2468":
        e.press(k)
    assert e.insert_text("+86 13") and e.text == "24688613"


def test_name_fields_have_a_handwriting_key_other_fields_do_not():
    from kiosk.ime.keyboard import HANDWRITE

    name = TextEntry(kind="name").layouts["zh"]
    assert name.key("handwrite").action == HANDWRITE and name.key("handwrite").label == "手写"
    e = TextEntry(kind="name")
    assert not e.press("handwrite") and e.snapshot()["text"] == ""  # the widget acts on it, not the entry
    assert TextEntry(kind="text").layouts["zh"].key("handwrite") is None
    assert TextEntry(kind="name").layouts["en"].key("handwrite") is None
