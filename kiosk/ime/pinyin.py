"""Pinyin input method engine: Latin letters in, ranked Chinese candidates out (no Kivy).

    engine = get_engine()                      # loads the shared index once (~50 ms, ~3 MB)
    cands = engine.candidates("zhangwei", context="surname")
    cands[0]   -> Candidate(text='张伟', consumed=8, kind='name')
    next(c for c in cands if c.text == "张").consumed -> 5   # "wei" stays in the composition

The composition is lower-case a-z plus "'" (a syllable separator the visitor may type);
"ü" may be typed as "v" (lv, nve) and "lue"/"nue" are accepted for lüe/nüe. Letters are
split into syllables (the split with the fewest syllables wins: "xian" is 先/现, "xi'an"
is 西安); a trailing incomplete syllable ("zhangwe") and bare initials ("zw", "lxl")
match words by prefix. Letters that are no pinyin at all only get the Latin candidate,
which commits them as typed.

Ranking: context "surname" (a name field, nothing Chinese typed yet) offers a composed
name (common surname + common given-name characters) and surnames first; "given" (a
name field after the surname) puts given-name characters first; "text" ranks by word
and character frequency only, and offers a "sentence" (the likeliest string of words
over all syllables, "woyaobaoxiu" → 我要报修). Whole-composition words come first, then
the longest shorter words, the leading syllable's best two characters (so the first
character is always on the first page), then the rest.

The data file is built by kiosk/ime/tools/build_pinyin_data.py; see there for sources
and licences.
"""

from __future__ import annotations

import array
import base64
import bisect
import heapq
import json
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

DATA_PATH = Path(__file__).resolve().parent / "pinyin_index.txt"
CONTEXTS = ("text", "surname", "given")
MAX_COMPOSITION = 32  # letters; longer input is refused by the keyboard before it gets here
MAX_CANDIDATES = 80
_MAX_SYLLABLE = 6
_MAX_WORD_SYLLABLES = 4
_MAX_SENTENCE_SYLLABLES = 12
INITIALS = ("b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x",
            "zh", "ch", "sh", "r", "z", "c", "s", "y", "w")
ALIASES = {"lue": "lve", "nue": "nve"}  # common spellings of lüe/nüe without the umlaut

# Segment costs: fewer syllables win; a bare initial or an incomplete last syllable costs
# a little more than a full syllable, a letter that starts no syllable a lot more.
_COST_FULL = 1.0
_COST_PARTIAL_END = 1.2
_COST_INITIAL = 1.6
_COST_JUNK = 50.0
_WORD_PENALTY = 1.0  # nats per word in the sentence candidate: prefer fewer, longer words


@dataclass(frozen=True)
class Candidate:
    """One choice in the candidate bar.

    text: what is committed; consumed: how many characters of the composition it uses up
    (the rest stays in the composition); kind: "phrase", "sentence" (several words),
    "char", "name" or "latin".
    """

    text: str
    consumed: int
    kind: str = "phrase"


class Segment(NamedTuple):
    text: str      # the letters as typed ("lue")
    syl: str       # canonical syllable or prefix used for look-ups ("lve")
    start: int     # position in the composition
    end: int
    kind: str      # "full", "partial" (prefix of a syllable, last one only), "initial", "junk"


def _unpack(b64, typecode: str) -> array.array:
    arr = array.array(typecode)
    arr.frombytes(base64.b64decode(b64))
    if sys.byteorder != "little":
        arr.byteswap()
    return arr


class _Slices:
    """A read-only sequence over a packed string: item i is blob[off[i]:off[i+1]] (for bisect)."""

    __slots__ = ("blob", "off")

    def __init__(self, blob: str, off: array.array):
        self.blob, self.off = blob, off

    def __len__(self) -> int:
        return len(self.off) - 1

    def __getitem__(self, i: int) -> str:
        return self.blob[self.off[i]:self.off[i + 1]]


class PinyinIndex:
    """The packed dictionary: pinyin keys ("zhang'wei") → entries (word, score), sorted.

    Entries of one key are contiguous and sorted by score, best first. An abbreviation
    table maps the initial letters of multi-syllable keys ("zw") to entry ids by score.
    """

    def __init__(self, path: Path | str = DATA_PATH):
        raw = memoryview(Path(path).read_bytes())
        lines: list[memoryview] = []
        start = 0
        blob = raw.obj
        while start < len(raw):
            end = blob.find(b"\n", start)
            end = len(raw) if end < 0 else end
            lines.append(raw[start:end])
            start = end + 1
        data = json.loads(str(lines[1], "utf-8"))
        if data.get("format") != 2:
            raise ValueError(f"{path}: unknown pinyin data format {data.get('format')!r}")
        sec = dict(zip(data["sections"], lines[2:]))
        if len(sec) != len(data["sections"]):
            raise ValueError(f"{path}: truncated pinyin data")
        self.source: str = data["source"]
        self.keys = _Slices(str(sec["keys"], "ascii"), _unpack(sec["key_off"], "I"))
        self.key_entry = _unpack(sec["key_entry"], "I")
        self.words = _Slices(str(sec["words"], "utf-8"), _unpack(sec["word_off"], "I"))
        self.score = _unpack(sec["score"], "H")
        self.uscore = _unpack(sec["uscore"], "H")  # as a word on its own (characters), for sentences
        self.abbr_keys = _Slices(str(sec["abbr_keys"], "ascii"), _unpack(sec["abbr_off"], "I"))
        self.abbr_start = _unpack(sec["abbr_start"], "I")
        self.abbr_ids = _unpack(sec["abbr_ids"], "I")
        del sec, lines, raw
        self.syllables: frozenset[str] = frozenset(data["syllables"])
        self.prefixes: frozenset[str] = frozenset(s[:i] for s in self.syllables for i in range(1, len(s) + 1))
        by_prefix: dict[str, list[str]] = {}
        for s in sorted(self.syllables):
            for i in range(1, len(s) + 1):
                by_prefix.setdefault(s[:i], []).append(s)
        self.syllables_by_prefix: dict[str, tuple[str, ...]] = {p: tuple(v) for p, v in by_prefix.items()}
        self.surnames: list[tuple[str, str]] = [(t, r) for t, r in data["surnames"]]
        self.surname_rank = {t: i for i, (t, _r) in enumerate(self.surnames)}
        self.surnames_by_reading: dict[str, list[str]] = {}
        for t, r in self.surnames:
            self.surnames_by_reading.setdefault(r, []).append(t)
        self.name_rank = {ch: i for i, ch in enumerate(data["name_chars"])}
        self.counts: dict[str, int] = data["counts"]
        self.score_scale: float = float(data["score_scale"])
        self.log_total: float = float(data["log_total"])

    # -- look-ups (entry ids)
    def key_index(self, key: str) -> int:
        i = bisect.bisect_left(self.keys, key)
        return i if i < len(self.keys) and self.keys[i] == key else -1

    def exact(self, key: str) -> range:
        """Entry ids of one key, best first (empty if the key is unknown)."""
        i = self.key_index(key)
        return range(0) if i < 0 else range(self.key_entry[i], self.key_entry[i + 1])

    def prefix_keys(self, prefix: str) -> range:
        """Key indexes whose key starts with prefix."""
        lo = bisect.bisect_left(self.keys, prefix)
        hi = bisect.bisect_left(self.keys, prefix + "\x7f", lo)
        return range(lo, hi)

    def key_of_entry(self, entry: int) -> str:
        return self.keys[bisect.bisect_right(self.key_entry, entry) - 1]

    def abbr(self, initials: str) -> array.array | list[int]:
        i = bisect.bisect_left(self.abbr_keys, initials)
        if i < len(self.abbr_keys) and self.abbr_keys[i] == initials:
            return self.abbr_ids[self.abbr_start[i]:self.abbr_start[i + 1]]
        return []

    def word(self, entry: int) -> str:
        return self.words[entry]


# ------------------------------------------------------------------ segmentation

def normalise(composition: str) -> str:
    """Lower-case; ü→v; anything but a-z and "'" dropped; no leading or doubled "'"."""
    out: list[str] = []
    for ch in composition.lower().replace("ü", "v").replace("’", "'"):
        if "a" <= ch <= "z":
            out.append(ch)
        elif ch == "'" and out and out[-1] != "'":
            out.append(ch)
    return "".join(out)


def segment(composition: str, syllables: frozenset[str], prefixes: frozenset[str],
            alternatives: int = 3) -> list[tuple[Segment, ...]]:
    """Split a normalised composition into syllables; the best splits first (ties kept).

    "xian" → [(xian)]; "xi'an" → [(xi, an)]; "zw" → [(z initial, w partial)];
    "fangan" → [(fang, an), (fan, gan)]. Letters that start no syllable become "junk".
    """
    n = len(composition)
    if n == 0:
        return [()]
    # best[i]: up to `alternatives` (cost, segments) covering composition[:i]
    best: list[list[tuple[float, tuple[Segment, ...]]]] = [[] for _ in range(n + 1)]
    best[0] = [(0.0, ())]
    end = len(composition.rstrip("'"))
    for i in range(n):
        if not best[i]:
            continue
        if composition[i] == "'":
            _keep(best[i + 1], best[i], alternatives)
            continue
        for j in range(i + 1, min(i + _MAX_SYLLABLE, n) + 1):
            piece = composition[i:j]
            if "'" in piece:
                break
            syl = ALIASES.get(piece, piece)
            if syl in syllables:
                kind, cost = "full", _COST_FULL
            elif j == end and syl in prefixes:
                kind, cost = "partial", _COST_PARTIAL_END
            elif piece in INITIALS:
                kind, cost = "initial", _COST_INITIAL
            elif j == i + 1:
                kind, cost = "junk", _COST_JUNK
            else:
                continue
            seg = Segment(piece, syl, i, j, kind)
            _keep(best[j], [(c + cost, segs + (seg,)) for c, segs in best[i]], alternatives)
    final = best[n]
    top = final[0][0]
    # Ties on cost: the greedy split (longest first syllable) first.
    tied = [segs for c, segs in final if c <= top + 1e-9]
    tied.sort(key=lambda segs: [-(s.end - s.start) for s in segs])
    return tied


def _keep(slot: list, new: Iterable, k: int) -> None:
    for item in new:
        if any(item[1] == s[1] for s in slot):
            continue
        slot.append(item)
    slot.sort(key=lambda cs: (cs[0], [-(s.end - s.start) for s in cs[1]]))
    del slot[k:]


# ------------------------------------------------------------------ engine

class PinyinEngine:
    """Ranked candidates for a composition. Thread-safe; results are cached (LRU)."""

    def __init__(self, index: PinyinIndex | None = None, cache_size: int = 512):
        self.index = index or PinyinIndex()
        self._cached = lru_cache(maxsize=cache_size)(self._compute)

    def segments(self, composition: str) -> tuple[Segment, ...]:
        """The best split of a composition (for showing it as "zhang'wei")."""
        comp = normalise(composition)[:MAX_COMPOSITION]
        return segment(comp, self.index.syllables, self.index.prefixes)[0]

    def preedit(self, composition: str) -> str:
        """The composition as shown above the candidates: syllables joined by "'"."""
        return "'".join(s.text for s in self.segments(composition))

    def candidates(self, composition: str, context: str = "text", limit: int = MAX_CANDIDATES) -> list[Candidate]:
        """Candidates for a composition, best first; the last one commits the letters as typed.

        `composition` is what the visitor typed (a-z, "'"; other characters are ignored);
        `consumed` in each candidate counts characters of the normalised composition.
        """
        if context not in CONTEXTS:
            raise ValueError(f"context must be one of {CONTEXTS}, not {context!r}")
        comp = normalise(composition)[:MAX_COMPOSITION]
        if not comp:
            return []
        return list(self._cached(comp, context)[:limit])

    def clear_cache(self) -> None:
        self._cached.cache_clear()

    # -- internals
    def _compute(self, comp: str, context: str) -> tuple[Candidate, ...]:
        idx = self.index
        splits = segment(comp, idx.syllables, idx.prefixes)
        out: list[Candidate] = []
        seen: set[tuple[str, int]] = set()

        def add(text: str, consumed: int, kind: str) -> None:
            if (text, consumed) not in seen and len(out) < MAX_CANDIDATES - 1:
                seen.add((text, consumed))
                out.append(Candidate(text, consumed, kind))

        def consumed_after(segs: tuple[Segment, ...], k: int) -> int:
            pos = segs[k - 1].end
            while pos < len(comp) and comp[pos] == "'":
                pos += 1
            return pos

        usable = []
        for segs in splits:
            valid: list[Segment] = []
            for s in segs:
                if s.kind == "junk":
                    break
                valid.append(s)
            if valid:
                usable.append(tuple(valid[:_MAX_SENTENCE_SYLLABLES]))
        if usable:
            primary = usable[0]
            n = len(primary)
            # 1. words over as many syllables as the word list has, from every tied split
            full_words: list[tuple[int, str, int]] = []
            for segs in usable:
                k = min(len(segs), _MAX_WORD_SYLLABLES)
                if k >= 2:
                    used = consumed_after(segs, k)
                    for e in self._phrases(segs[:k], 24):
                        full_words.append((idx.score[e], idx.word(e), used))
            full_words.sort(key=lambda t: -t[0])
            singles = self._singles(primary[0], context)
            used1 = consumed_after(primary, 1)
            if context == "surname":
                for text, used in self._composed_names(primary, consumed_after):
                    add(text, used, "name")
                named = [w for w in full_words if w[1][0] in idx.surname_rank]
                for _s, w, used in named[:3]:
                    add(w, used, "phrase")
                for ch in singles[:2]:
                    add(ch, used1, "char")
            # 2. shorter words from the start of the primary split, longest first
            shorter: list[tuple[str, int]] = []
            for k in range(min(n, _MAX_WORD_SYLLABLES + 1) - 1, 1, -1):
                used = consumed_after(primary, k)
                shorter.extend((idx.word(e), used) for e in self._phrases(primary[:k], 12))
            sentence = self._sentence(primary) if context == "text" else None
            if sentence and (n > _MAX_WORD_SYLLABLES or not full_words):
                add(sentence, consumed_after(primary, n), "sentence")
            for _s, w, used in full_words[:3]:
                add(w, used, "phrase")
                if sentence:
                    add(sentence, consumed_after(primary, n), "sentence")
            for w, used in shorter[:3 - min(3, len(full_words))]:
                add(w, used, "phrase")
            for ch in singles[:2]:  # the first character is always on the first page
                add(ch, used1, "char")
            for _s, w, used in full_words[3:]:
                add(w, used, "phrase")
            for w, used in shorter:
                add(w, used, "phrase")
            # 3. the leading syllable's characters (also from the other tied splits)
            for ch in singles:
                add(ch, used1, "char")
            for segs in usable[1:]:
                if segs[0] != primary[0]:
                    for ch in self._singles(segs[0], context)[:8]:
                        add(ch, consumed_after(segs, 1), "char")
        out.append(Candidate(comp, len(comp), "latin"))
        return tuple(out)

    def _sentence(self, segs: tuple[Segment, ...]) -> str | None:
        """The likeliest sequence of words over all syllables ("woyaobaoxiu" → 我要报修).

        A unigram model: each word costs -ln P(word) plus a small per-word penalty, so
        longer words win over strings of characters. Only for 2+ words over full syllables.
        """
        n = len(segs)
        if n < 2 or any(s.kind != "full" for s in segs):
            return None
        idx = self.index
        scale, log_total = idx.score_scale, idx.log_total
        best: list[tuple[float, int, int]] = [(0.0, -1, -1)] + [(-1e18, -1, -1)] * n  # (logp, prev, entry)
        for i in range(n):
            if best[i][0] <= -1e17:
                continue
            for k in range(1, min(_MAX_WORD_SYLLABLES, n - i) + 1):
                r = idx.exact("'".join(s.syl for s in segs[i:i + k]))
                if not r:
                    continue
                e = max(r, key=idx.uscore.__getitem__) if k == 1 else r[0]
                logp = best[i][0] + idx.uscore[e] / scale - log_total - _WORD_PENALTY
                if logp > best[i + k][0]:
                    best[i + k] = (logp, i, e)
        if best[n][0] <= -1e17:
            return None
        words: list[str] = []
        pos = n
        while pos > 0:
            _lp, prev, e = best[pos]
            words.append(idx.word(e))
            pos = prev
        return "".join(reversed(words)) if len(words) >= 2 else None

    def _phrases(self, segs: tuple[Segment, ...], limit: int) -> list[int]:
        """Entry ids of words spelled by exactly these segments, best first."""
        idx = self.index
        n = len(segs)
        if all(s.kind == "full" for s in segs):
            return list(idx.exact("'".join(s.syl for s in segs))[:limit])
        if all(s.kind == "full" for s in segs[:-1]):
            prefix = "'".join(s.syl for s in segs)
            found: list[int] = []
            for ki in idx.prefix_keys(prefix):
                if idx.keys[ki].count("'") == n - 1:
                    found.extend(range(idx.key_entry[ki], idx.key_entry[ki + 1]))
            found.sort(key=lambda e: -idx.score[e])
            return found[:limit]
        # bare initials in the middle: scan the abbreviation list, best first
        out: list[int] = []
        for e in idx.abbr("".join(s.syl[0] for s in segs)):
            syls = idx.key_of_entry(e).split("'")
            if len(syls) == n and all(syl.startswith(s.syl) if s.kind != "full" else syl == s.syl
                                      for syl, s in zip(syls, segs)):
                out.append(e)
                if len(out) >= limit:
                    break
        return out

    def _singles(self, seg: Segment, context: str) -> list[str]:
        """Characters for one segment, best first, with surname / given-name boosts."""
        return list(self._singles_cached(seg.syl, seg.kind == "full", context))

    @lru_cache(maxsize=1024)  # noqa: B019 - the engine lives as long as the process
    def _singles_cached(self, syl: str, full: bool, context: str) -> tuple[str, ...]:
        idx = self.index
        if full:
            ranges = [idx.exact(syl)]
        else:
            ranges = [idx.exact(s) for s in idx.syllables_by_prefix.get(syl, ())]
        if full:
            chars = list(dict.fromkeys(idx.word(e) for e in ranges[0]))
        else:  # a prefix ("z", "sh", "we"): the best 60 over every syllable it starts
            score, word = idx.score, idx.word
            best = heapq.nlargest(60, ((score[e], e) for r in ranges for e in r[:60]))
            chars = list(dict.fromkeys(word(e) for _s, e in best))
        if context == "surname":
            boost = idx.surnames_by_reading.get(syl, []) if full else [
                t for s in idx.syllables_by_prefix.get(syl, ()) for t in idx.surnames_by_reading.get(s, [])]
            boost = sorted((t for t in boost if len(t) == 1), key=idx.surname_rank.__getitem__)
            chars = list(dict.fromkeys(boost + chars))
        elif context == "given":
            # only where this is one of the character's usual readings (立 is not "wei")
            named = sorted((c for c in chars[:40] if c in idx.name_rank), key=idx.name_rank.__getitem__)
            chars = list(dict.fromkeys(named[:6] + chars))
        return tuple(chars)

    def _composed_names(self, segs: tuple[Segment, ...], consumed_after) -> list[tuple[str, int]]:
        """"zhangwei" → 张伟: the commonest surname, then the commonest name characters."""
        idx = self.index
        if not 2 <= len(segs) <= 4 or any(s.kind != "full" for s in segs):
            return []
        surname = ""
        rest = segs
        compound = idx.surnames_by_reading.get(f"{segs[0].syl}'{segs[1].syl}", [])
        if compound and len(segs) == 2:
            return [(compound[0], consumed_after(segs, 2))]  # "ouyang" is 欧阳, not 欧洋
        if compound:
            surname, rest = compound[0], segs[2:]
        if not surname:
            single = idx.surnames_by_reading.get(segs[0].syl, [])
            if not single:
                return []
            surname, rest = single[0], segs[1:]
        if not 1 <= len(rest) <= 2:
            return []
        picks: list[list[str]] = []
        for s in rest:
            named = [c for c in self._singles_cached(s.syl, True, "given")[:6] if c in idx.name_rank]
            if not named:
                return []
            picks.append(named)
        used = consumed_after(segs, len(segs))
        names = [surname + "".join(p[0] for p in picks)]
        if len(picks[-1]) > 1:
            names.append(surname + "".join(p[0] for p in picks[:-1]) + picks[-1][1])
        return [(n, used) for n in names]


_ENGINE: PinyinEngine | None = None
_ENGINE_LOCK = threading.Lock()


def get_engine() -> PinyinEngine:
    """The process-wide engine (the index is loaded on first use)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = PinyinEngine()
        return _ENGINE
