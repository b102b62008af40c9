"""Make trainer/fonts/NotoSansCJK-subset.otf, the font of the chart PNGs' text.

Run (once, when the character set changes; fonttools is needed only here):

    pip install fonttools
    python scripts/subset_cjk_font.py /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

The source is Noto Sans CJK Regular (SIL Open Font License 1.1; Debian's fonts-noto-cjk
ships it as a collection; the "JP" face is taken). The full face has 65,535 glyphs
(~16 MB); the subset keeps what class names and chart labels plausibly use:

* Latin: ASCII, Latin-1, Latin Extended-A, general punctuation, a few symbols;
* kana, CJK symbols and punctuation, full- and half-width forms;
* Hangul: the 2,350 syllables of KS X 1001 and the compatibility jamo;
* ideographs: GB 2312 (simplified Chinese), JIS X 0208 (Japanese) and Big5 level 1
  (frequent traditional Chinese) - the characters of everyday Chinese and Japanese text.

A character outside the subset is drawn from a system font where one has it
(``trainer.chart_text``). The OFL allows a modified (subset) font to be redistributed
under the same licence, beside which trainer/fonts/OFL.txt travels; the subset keeps the
name "Noto Sans CJK", which the OFL permits as Noto declares no Reserved Font Name.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont
from fontTools.ttLib.tables._c_m_a_p import CmapSubtable

OUT = Path(__file__).resolve().parents[1] / "trainer" / "fonts" / "NotoSansCJK-subset.otf"
FACE = "Noto Sans CJK JP"


def _codec_chars(codec: str, first: range, second: range) -> set[str]:
    chars = set()
    for hi in first:
        for lo in second:
            try:
                chars.add(bytes([hi, lo]).decode(codec))
            except UnicodeDecodeError:
                pass
    return chars


def characters() -> set[int]:
    ranges = [(0x20, 0x7E), (0xA0, 0x17F), (0x2000, 0x206F), (0x2190, 0x21FF),
              (0x2200, 0x22FF), (0x2460, 0x24FF), (0x25A0, 0x25FF), (0x3000, 0x30FF),
              (0x3130, 0x318F), (0xFF00, 0xFFEF)]
    points = {c for lo, hi in ranges for c in range(lo, hi + 1)}
    euc = range(0xA1, 0xFF)
    text = (_codec_chars("gb2312", euc, euc) | _codec_chars("euc_jp", euc, euc)
            | _codec_chars("euc_kr", range(0xB0, 0xC9), euc)  # Hangul rows of KS X 1001
            | _codec_chars("big5", range(0xA4, 0xC7), list(range(0x40, 0x7F))  # level 1
                           + list(range(0xA1, 0xFF))))
    return points | {ord(c) for c in text if len(c) == 1}


def main(source: str) -> None:
    faces = [f["name"].getDebugName(4) for f in TTCollection(source).fonts]
    font = TTFont(source, fontNumber=faces.index(FACE), lazy=False)  # tables not shared
    options = subset.Options()
    options.layout_features = []  # no vertical or variant forms: chart text is plain
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False  # FreeType's own hinting is as good at chart sizes, and smaller
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=characters())
    subsetter.subset(font)
    # the subsetter writes format 4, whose 16-bit offsets cannot hold this many
    # scattered characters; one format 12 table (Windows, full Unicode) holds them all
    mapping = font.getBestCmap()
    table = CmapSubtable.newSubtable(12)
    table.platformID, table.platEncID, table.language, table.cmap = 3, 10, 0, mapping
    font["cmap"].tables = [table]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    font.save(OUT)
    print(f"{OUT}: {len(font.getGlyphOrder())} glyphs, {OUT.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main(sys.argv[1])
