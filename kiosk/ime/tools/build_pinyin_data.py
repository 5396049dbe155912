"""Build kiosk/ime/pinyin_index.txt, the pinyin engine's dictionary (development time only).

    .venv/bin/pip install jieba==0.42.1 fonttools hanzidentifier   # generator-only tools
    .venv/bin/python -m kiosk.ime.tools.build_pinyin_data [--words 100000]

Sources (all permissively licensed; none is needed at run time):
- word and character frequencies: the dictionary of jieba 0.42.1 (jieba/dict.txt, MIT licence,
  https://github.com/fxsjy/jieba);
- readings: pypinyin (MIT licence; its data comes from pinyin-data and phrase-pinyin-data,
  both MIT): every reading of each character, and the reading of each word in context;
- the character set: GB 2312 (6763 simplified characters, all drawn by Noto Sans CJK SC)
  plus a short hand-made list of common given-name characters outside GB 2312; each one is
  checked against the cmap of Noto Sans CJK SC (SIL Open Font License) and against
  hanzidentifier (MIT) so no traditional-only character gets in;
- surnames and given-name characters: hand-made lists in this file (general knowledge of
  the most common Chinese surnames and name characters; no third-party data).

The output is one text file: a comment line, a JSON header line (sources, syllables,
surnames, name characters, counts, section names), then one line per section: the sorted
pinyin keys and the words packed into two strings, and offset/score arrays as base64 of
little-endian uint32/uint16. Loading decodes each line straight from the file's bytes (no
big intermediate str), so it is fast and the index stays a few MB in memory.
"""

from __future__ import annotations

import argparse
import array
import base64
import json
import math
import os
import sys
from collections import defaultdict
from pathlib import Path

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
OUT = Path(__file__).resolve().parent.parent / "pinyin_index.txt"

# Most common surnames, roughly by population; polyphonic ones carry their surname reading.
SURNAMES = (
    "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 林 高 罗 郑 梁 谢 宋 唐 许 韩 邓 冯 曹 彭 "
    "曾:zeng 肖 田 董 潘 袁 蔡 蒋 余 于 杜 叶 程 魏 苏 吕 丁 任:ren 卢 姚 沈:shen 钟 姜 崔 谭 陆 范 "
    "汪 廖 石:shi 金 韦 贾 夏 付 方 邹 熊 白 孟 秦 邱 侯 江 尹 薛 闫 段 雷 龙 黎 史 陶 贺 毛 郝 顾 "
    "龚 邵:shao 万:wan 覃:qin 武 钱 戴 严 莫 孔 向 常 汤 康 易 乔 赖 文 施 洪 辛 柯 庄 葛:ge 牛 温 "
    "樊 兰 殷 颜 倪 欧 鲁 章 詹 聂 齐 焦 左 甘 涂 关 耿 包 安 伍 梅 俞 祝 芦 舒 申 纪:ji 祁 宁 游 "
    "阮 岳 卜:bu 尚 单:shan 曲:qu 练 翟:zhai 盛:sheng 解:xie 仇:qiu 查:zha 区:ou 朴:piao 乐:yue "
    "缪:miao 盖:ge 种:chong 华:hua 燕 宿:su 费:fei 车 房 凌 霍 柴 贝 麦 邝 冉 储 季 鲍 符 谷 "
    "欧阳:ou'yang 司马:si'ma 上官:shang'guan 诸葛:zhu'ge 东方:dong'fang 皇甫:huang'fu "
    "司徒:si'tu 夏侯:xia'hou 令狐:ling'hu 慕容:mu'rong 公孙:gong'sun 长孙:zhang'sun "
    "宇文:yu'wen 尉迟:yu'chi 端木:duan'mu 南宫:nan'gong 轩辕:xuan'yuan"
).split()

# Common given-name characters, most popular first (several generations mixed).
NAME_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红辉鹏飞斌宇浩凯健俊帆帅旭宁龙林欣佳"
    "嘉琳婷雪晶莉慧颖倩洁丹萱梓涵轩子睿博文一诺思雨泽铭昊然晨怡可馨悦瑶琪婧琦晓小志建国海波鑫亮"
    "成东峰宏瑞航彬楠璐露莹蕾薇梅燕琴云凤洪伦毅翔坤昌彤淑琼菲璇妍雅婉若曦语奕彦皓逸宸烨煜昕诗梦"
    "紫依安心钰瑾蓉芸茜岚娇妮珊姗珍贞艺冰清月春秋冬天阳光荣辰星宝德福祥发庆永新立正家鸿维豪政振"
    "贤达锋胜忠义山江松柏峻骏彪威武卫兵虎彧喆堃玥珺祎赟琛瑜瑛琬瑗珂璟韬舟宁远航哲源腾懿沐筱晗"
)

# Common name characters outside GB 2312 that Noto Sans CJK SC draws (checked below).
EXTRA_CHARS = (
    "喆堃玥珺祎赟镕彧琤翀劼瑄暐旻昇昉晞琇璟婳姮玙珩珝瑢璠瑀燊焜烜晗晟旸甯犇垚瑒玹珣飏溦芃苡洺"
    "浛湉婼妤妘婠嫚歆翊桉樾橦杺柘锘镓堇垲埕峣崟嶙谞宥宬寀亓禤砼啰囧凼氹"
)

# What visitors to a property-management lobby write about (complaints, repairs, visits):
# jieba lacks a few of these or ranks them below homophones (漏税 over 漏水), so they get
# a floor frequency.
DOMAIN_WORDS = (
    "物业 报修 报事 漏水 渗水 投诉 建议 表扬 咨询 维修 电梯 停车 停车场 车位 车库 门禁 门卡 访客 保安 "
    "业主 业户 租户 物业费 管理费 水电 停电 停水 漏电 跳闸 噪音 噪声 扰民 空调 暖气 卫生间 厕所 垃圾 "
    "清洁 保洁 绿化 快递 外卖 装修 施工 管道 堵塞 下水道 水管 电表 水表 燃气 消防 监控 钥匙 楼道 走廊 "
    "地下室 大堂 前台 客服 登记 预约 面试 送货 会议 拜访 维保 房东 租金 抄表 灯坏了 不亮 异味 漏雨 "
    "墙面 天花板 地漏 马桶 水龙头 插座 开关 照明 宽带 信号 宠物 狗叫 电瓶车 充电 违停 占用 消防通道 "
    "物业管理 管理处 访客登记 停车位 客服中心 维修人员 电梯故障 空调漏水 水管破裂 门禁卡 出入证 施工许可"
).split()
DOMAIN_FLOOR = 20000

# Syllables that only interjections use; they would break segmentation ("n", "m", "ng").
EXCLUDED_SYLLABLES = {"n", "m", "ng", "hm", "hng", "ê", "e^", "ea", "o"}


def _font_cmap(path: str) -> set[int]:
    from fontTools.ttLib import TTCollection, TTFont
    if path.endswith(".ttc"):
        for font in TTCollection(path).fonts:
            if "CJK SC" in font["name"].getDebugName(4) and "Mono" not in font["name"].getDebugName(4):
                return set(font.getBestCmap())
        raise SystemExit(f"no SC face in {path}")
    return set(TTFont(path).getBestCmap())


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _b64(arr: array.array) -> str:
    if sys.byteorder != "little":
        arr = array.array(arr.typecode, arr)
        arr.byteswap()
    return base64.b64encode(arr.tobytes()).decode("ascii")


SCORE_SCALE = 3000


def _score(freq: float) -> int:
    return max(1, min(65535, int(math.log(freq + 1) * SCORE_SCALE)))


def build(words_limit: int, font: str) -> dict:
    import hanzidentifier
    import jieba
    import pypinyin
    from pypinyin import Style, lazy_pinyin
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    cmap = _font_cmap(font)
    allowed: set[str] = set()
    for cp in range(0x4E00, 0xA000):
        ch = chr(cp)
        if _in_gb2312(ch) and cp in cmap:
            allowed.add(ch)
    for ch in EXTRA_CHARS:
        if ord(ch) in cmap and hanzidentifier.identify(ch) != hanzidentifier.TRADITIONAL and ord(ch) in pinyin_dict:
            allowed.add(ch)

    def plain(syl: str) -> str:
        return to_normal(syl, v_to_u=False).replace("ü", "v")

    dict_path = os.path.join(os.path.dirname(jieba.__file__), "dict.txt")
    word_freq: dict[str, int] = {}
    char_freq: dict[str, float] = defaultdict(float)
    total = 0
    alone: dict[str, int] = {}  # a character used as a word on its own
    with open(dict_path, encoding="utf-8") as fh:
        for line in fh:
            w, f, _tag = line.split(" ")
            f_i = int(f)
            total += f_i
            if len(w) == 1:
                alone[w] = alone.get(w, 0) + f_i
            for ch in w:
                char_freq[ch] += f_i
            if 2 <= len(w) <= 4 and all(ch in allowed for ch in w):
                word_freq[w] = max(word_freq.get(w, 0), f_i)

    for w in DOMAIN_WORDS:
        if all(ch in allowed for ch in w):
            word_freq[w] = max(word_freq.get(w, 0), DOMAIN_FLOOR)

    surnames: list[tuple[str, str]] = []
    for item in SURNAMES:
        text, _, reading = item.partition(":")
        if not all(ch in allowed for ch in text):
            continue
        if not reading:
            reading = "'".join(plain(s) for s in lazy_pinyin(text, style=Style.TONE))
        surnames.append((text, reading))
    for text, _ in surnames:
        if len(text) > 1:
            word_freq[text] = max(word_freq.get(text, 0), 2000)
    name_chars = "".join(dict.fromkeys(ch for ch in NAME_CHARS if ch in allowed))

    # How often each character is read each way: readings of every dictionary word in
    # context (pypinyin's phrase data), weighted by the word's frequency.
    reading_freq: dict[tuple[str, str], float] = defaultdict(float)
    word_readings: dict[str, list[str]] = {}
    with open(dict_path, encoding="utf-8") as fh:
        for line in fh:
            w, f, _tag = line.split(" ")
            if not all(ch in allowed for ch in w):
                continue
            reading = [plain(s) for s in lazy_pinyin(w, style=Style.TONE)]
            if w in word_freq:
                word_readings[w] = reading
            for ch, r in zip(w, reading):
                reading_freq[(ch, r)] += int(f)

    entries: dict[tuple[str, str], int] = {}  # (key, word) -> score
    unigram: dict[tuple[str, str], int] = {}  # (key, char) -> score as a word on its own
    valid: set[str] = set()
    for ch in sorted(allowed):
        readings = list(dict.fromkeys(plain(r) for r in pinyin_dict[ord(ch)].split(",")))
        base = char_freq.get(ch, 0) + 1
        for i, r in enumerate(readings):
            if r in EXCLUDED_SYLLABLES or not r.isascii() or not r.isalpha():
                continue
            valid.add(r)
            # a reading no word uses still gets offered, far down the list
            freq = reading_freq.get((ch, r)) or base * (0.01 if i == 0 else 0.0005)
            entries[(r, ch)] = _score(freq)
            share = freq / sum(reading_freq.get((ch, x), 0) or 1 for x in readings)
            unigram[(r, ch)] = _score(alone.get(ch, 0) * min(1.0, share))
    for text, reading in surnames:  # make sure each surname reading is there
        if len(text) == 1 and (reading, text) not in entries:
            entries[(reading, text)] = _score(char_freq.get(text, 0) * 0.1 + 1)
            valid.add(reading)
    top = sorted(word_freq.items(), key=lambda kv: -kv[1])[:words_limit]
    for w, f in top:
        reading = word_readings.get(w) or [plain(s) for s in lazy_pinyin(w, style=Style.TONE)]
        if any(s not in valid for s in reading):
            continue
        key = "'".join(reading)
        entries[(key, w)] = max(entries.get((key, w), 0), _score(f))

    ordered = sorted(entries.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
    keys: list[str] = []
    key_off = array.array("I", [0])
    key_entry = array.array("I")
    words: list[str] = []
    word_off = array.array("I", [0])
    scores = array.array("H")
    uscores = array.array("H")
    abbr: dict[str, list[int]] = defaultdict(list)
    pos_k = pos_w = 0
    for idx, ((key, word), score) in enumerate(ordered):
        if not keys or keys[-1] != key:
            keys.append(key)
            pos_k += len(key)
            key_off.append(pos_k)
            key_entry.append(idx)
        words.append(word)
        pos_w += len(word)
        word_off.append(pos_w)
        scores.append(score)
        uscores.append(unigram.get((key, word), score))
        if "'" in key:
            abbr["".join(s[0] for s in key.split("'"))].append(idx)
    key_entry.append(len(ordered))
    abbr_keys = sorted(abbr)
    abbr_off = array.array("I", [0])
    abbr_start = array.array("I", [0])
    abbr_ids = array.array("I")
    pos_a = 0
    for k in abbr_keys:
        pos_a += len(k)
        abbr_off.append(pos_a)
        ids = sorted(abbr[k], key=lambda i: -scores[i])
        abbr_ids.extend(ids)
        abbr_start.append(len(abbr_ids))
    return {
        "format": 2,
        "source": "jieba 0.42.1 dict.txt (MIT) frequencies; pypinyin %s readings (MIT); GB 2312 + name "
                  "characters checked against Noto Sans CJK SC; built by kiosk/ime/tools/build_pinyin_data.py"
                  % pypinyin.__version__,
        "score_scale": SCORE_SCALE,            # score = ln(frequency + 1) * score_scale
        "log_total": round(math.log(total), 4),  # ln(sum of all frequencies): score → log-probability
        "syllables": sorted(valid),
        "surnames": [list(s) for s in surnames],
        "name_chars": name_chars,
        "counts": {"keys": len(keys), "entries": len(ordered), "chars": len(allowed), "abbr": len(abbr_keys)},
        "keys": "".join(keys),
        "key_off": _b64(key_off),
        "key_entry": _b64(key_entry),
        "words": "".join(words),
        "word_off": _b64(word_off),
        "score": _b64(scores),
        "uscore": _b64(uscores),
        "abbr_keys": "".join(abbr_keys),
        "abbr_off": _b64(abbr_off),
        "abbr_start": _b64(abbr_start),
        "abbr_ids": _b64(abbr_ids),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=100_000, help="most frequent words to keep")
    ap.add_argument("--font", default=FONT)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    data = build(args.words, args.font)
    sections = ["keys", "key_off", "key_entry", "words", "word_off", "score", "uscore",
                "abbr_keys", "abbr_off", "abbr_start", "abbr_ids"]
    header = {k: v for k, v in data.items() if k not in sections}
    header["sections"] = sections
    lines = ["# Pinyin index for the lobby kiosk input method. Generated by "
             "kiosk/ime/tools/build_pinyin_data.py; do not edit. Sources and licences: see that file.",
             json.dumps(header, ensure_ascii=False, separators=(",", ":"))]
    for name in sections:
        assert "\n" not in data[name]
        lines.append(data[name])
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {data['counts']}")


if __name__ == "__main__":
    main()
