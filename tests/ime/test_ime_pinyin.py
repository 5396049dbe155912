"""The pinyin engine: segmentation, ranking, consumption, fallbacks, the data file."""

from __future__ import annotations

import unicodedata

import pytest

from kiosk.ime.pinyin import MAX_COMPOSITION, PinyinEngine, get_engine, normalise

PAGE = 6  # the smallest candidate page the keyboard widget shows


@pytest.fixture(scope="module")
def engine() -> PinyinEngine:
    return get_engine()


def first_page(engine: PinyinEngine, comp: str, context: str = "text") -> list[str]:
    return [c.text for c in engine.candidates(comp, context)[:PAGE]]


def pick(engine: PinyinEngine, comp: str, text: str, context: str = "text") -> str:
    """Choose `text` from the first page; return what stays in the composition."""
    cands = engine.candidates(comp, context)[:PAGE]
    chosen = next((c for c in cands if c.text == text), None)
    assert chosen is not None, f"{text} not on the first page for {comp!r}: {[c.text for c in cands]}"
    return normalise(comp)[chosen.consumed:].lstrip("'")


def type_name(engine: PinyinEngine, comp: str, chars: str) -> None:
    """Type a name one character at a time, each from the first page."""
    context = "surname"
    for ch in chars:
        comp = pick(engine, comp, ch, context)
        context = "given"
    assert comp == ""


def test_zhangwei_char_by_char(engine):
    rest = pick(engine, "zhangwei", "张", "surname")
    assert rest == "wei"
    assert pick(engine, rest, "伟", "given") == ""


def test_zhangwei_whole_name_first(engine):
    cands = engine.candidates("zhangwei", "surname")
    assert cands[0].text == "张伟" and cands[0].consumed == len("zhangwei")


@pytest.mark.parametrize("comp,name", [
    ("wangfang", "王芳"), ("liuyang", "刘洋"), ("chenjing", "陈静"), ("lixiaolong", "李小龙"),
])
def test_common_names(engine, comp, name):
    assert name in first_page(engine, comp, "surname")
    type_name(engine, comp, name)


@pytest.mark.parametrize("comp,word", [
    ("beijing", "北京"), ("shanghai", "上海"), ("gongsi", "公司"), ("weixiu", "维修"), ("loushui", "漏水"),
    ("wuye", "物业"), ("baoxiu", "报修"), ("tousu", "投诉"), ("dianti", "电梯"), ("tingchechang", "停车场"),
])
def test_common_words_first_or_second(engine, comp, word):
    assert word in first_page(engine, comp)[:2]


def test_surname_context_puts_surnames_first(engine):
    assert first_page(engine, "zhang", "surname")[0] == "张"
    assert first_page(engine, "shan", "surname")[0] == "单"   # the surname reading of 单
    assert first_page(engine, "zeng", "surname")[0] == "曾"
    assert first_page(engine, "ouyang", "surname")[0] == "欧阳"


def test_given_context_puts_name_characters_first(engine):
    assert first_page(engine, "wei", "given")[0] == "伟"
    assert first_page(engine, "wei", "text")[0] == "为"


def test_segmentation_xian(engine):
    assert engine.preedit("xian") == "xian"
    assert "先" in first_page(engine, "xian")
    assert engine.preedit("xi'an") == "xi'an"
    assert first_page(engine, "xi'an")[0] == "西安"


def test_segmentation_changan(engine):
    assert engine.preedit("chang'an") == "chang'an"
    assert first_page(engine, "chang'an")[0] == "长安"
    assert engine.preedit("fangan") == "fang'an"
    assert "方案" in first_page(engine, "fangan")


@pytest.mark.parametrize("comp,char", [("nve", "虐"), ("nüe", "虐"), ("nue", "虐"), ("lve", "略"), ("lüe", "略"),
                                       ("lue", "略"), ("lv", "绿"), ("nv", "女")])
def test_umlaut_spellings(engine, comp, char):
    assert char in first_page(engine, comp)


def test_partial_last_syllable_and_initials(engine):
    assert "张" in first_page(engine, "zhangw", "surname")
    assert "周围" in [c.text for c in engine.candidates("zw")[:12]]
    cands = engine.candidates("lxl")
    assert any(c.text == "李小龙" for c in cands) or any(c.text == "李晓龙" for c in cands)
    assert all(len(c.text) <= 3 for c in cands if c.kind != "latin")
    singles = [c for c in engine.candidates("sh") if c.kind == "char"]
    assert singles and singles[0].text == "是"


@pytest.mark.parametrize("comp", ["iii", "u", "vvv", "i'i", "'", "''''", "q", "x'''x", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
                                  "ABC", "你好", "\x00\x1b", "a" * 200])
def test_garbage_never_crashes_and_offers_latin(engine, comp):
    cands = engine.candidates(comp)
    norm = normalise(comp)[:MAX_COMPOSITION]
    if norm:
        assert cands[-1].kind == "latin" and cands[-1].text == norm and cands[-1].consumed == len(norm)
    else:
        assert cands == []
    for c in cands:
        assert 0 < c.consumed <= len(norm)


def test_invalid_letters_only_latin(engine):
    cands = engine.candidates("iii")
    assert [(c.text, c.kind) for c in cands] == [("iii", "latin")]


def test_valid_prefix_then_garbage(engine):
    cands = engine.candidates("wangiii")
    assert cands[0].text == "王" and cands[0].consumed == 4
    assert cands[-1].text == "wangiii"


def test_only_simplified_renderable_characters(engine):
    """Everything offered is GB 2312 or on the short, font-checked name-character list."""
    idx = engine.index
    assert 6700 < idx.counts["chars"] < 7000
    words = idx.words.blob
    assert "張" not in words and "偉" not in words and "劉" not in words
    for ch in set(words):
        assert unicodedata.category(ch) == "Lo"
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            assert ch in "喆堃玥珺祎赟镕彧琤翀劼瑄暐旻昇昉晞琇璟婳姮玙珩珝瑢璠瑀燊焜烜晗晟旸甯犇垚瑒玹珣飏溦芃苡洺" \
                         "浛湉婼妤妘婠嫚歆翊桉樾橦杺柘锘镓堇垲埕峣崟嶙谞宥宬寀亓禤砼啰囧凼氹", ch


def test_context_is_checked(engine):
    with pytest.raises(ValueError):
        engine.candidates("wang", "nonsense")


def test_candidates_are_cached_and_stable(engine):
    a = engine.candidates("zhangwei", "surname")
    b = engine.candidates("zhangwei", "surname")
    assert a == b and a is not b  # the caller gets its own list


def test_index_loads_fast_and_small():
    import time
    import tracemalloc

    from kiosk.ime.pinyin import PinyinIndex
    tracemalloc.start()
    t = time.perf_counter()
    idx = PinyinIndex()
    elapsed = time.perf_counter() - t
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0  # ~15 ms here; a Pi 4 is a few times slower
    assert current < 8e6  # ~3.6 MB
    assert idx.counts["entries"] > 100_000 and "jieba" in idx.source


def test_truncated_data_file_is_refused(tmp_path):
    from kiosk.ime.pinyin import DATA_PATH, PinyinIndex
    bad = tmp_path / "index.txt"
    bad.write_bytes(b"\n".join(DATA_PATH.read_bytes().split(b"\n")[:4]))
    with pytest.raises(ValueError):
        PinyinIndex(bad)


@pytest.mark.parametrize("comp,sentence", [
    ("woyaobaoxiu", "我要报修"), ("diantihuaile", "电梯坏了"), ("kongtiaobuleng", "空调不冷"),
    ("louxiayouzaoyin", "楼下有噪音"), ("woshilaisonghuode", "我是来送货的"),
])
def test_sentence_candidate(engine, comp, sentence):
    cands = engine.candidates(comp)
    assert cands[0].text == sentence and cands[0].kind == "sentence" and cands[0].consumed == len(comp)


def test_no_sentence_in_name_fields(engine):
    assert all(c.kind != "sentence" for c in engine.candidates("woyaobaoxiu", "surname"))
