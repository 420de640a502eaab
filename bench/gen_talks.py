#!/usr/bin/env python3
"""Writes N synthetic talk documents (resources, embeds, unicode) into a folder.

Usage: gen_talks.py N OUT_DIR [--seed S]
The output is the same for the same N and seed.
"""
import argparse
import os
import random

WORDS = (
    "kafka stream event data pipeline schema registry connector table topic partition "
    "consumer producer latency throughput database change capture outbox ledger state "
    "notification architecture microservice analytics warehouse lake flink ksql"
).split()
PLACES = ["Øredev, Malmö", "München, Deutschland", "São Paulo, Brasil", "Kraków, Polska",
          "İstanbul, Türkiye", "Zürich, Schweiz", "London, UK", "東京, 日本", ""]
EVENTS = ["Kafka Summit", "Devoxx", "QCon", "JavaZone", "NDC Oslo", "Code.Talks", "Øredev", ""]
EMOJI = ["💬", "📚", "☁️", "📫", "💾", "🍻", "🏃", "🥓", "🎥", "👋", "🚀", "✅"]


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def document(rng, i):
    slug = f"synthetic-talk-{i:06d}"
    title = f"{sentence(rng, 6).title()} “{rng.choice(WORDS)}” {rng.choice(EMOJI)}"
    date = f"{rng.randint(2010, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(8, 18):02d}:00:00"
    lines = ["---", f"title: {quote(title)}", f"slug: {quote(slug)}", f"date: {date}",
             f"event: {quote(rng.choice(EVENTS))}", f"location: {quote(rng.choice(PLACES))}",
             f'image: "/images/{i}/slide_000.jpg"', f'pdf: "/pdfs/{i}.pdf"', f'notist_id: "N{i:07d}"']
    if i % 5 == 0:
        lines += ['source: "speakerdeck"', f'speakerdeck_slug: "{slug}"']
    lines.append("resources:")
    for r in range(rng.randint(1, 6)):
        lines.append(f"  - title: {quote(rng.choice(EMOJI) + ' ' + sentence(rng, 4))}")
        lines.append(f'    url: "https://example.com/{i}/{r}"')
        if r % 2:
            lines.append(f"    description: {quote(sentence(rng, 8) + ' — à la carte')}")
    lines.append("embeds:")
    for e in range(rng.randint(1, 5)):
        lines.append('  - type: "twitter"')
        lines.append("    html: |")
        lines.append(f'      <blockquote class="twitter-tweet"><p lang="en">{sentence(rng, 14)} {rng.choice(EMOJI)}</p>'
                     f'&mdash; René Kübler (@user{e}) <a href="https://twitter.com/u/status/{i}{e}">May 1, 2020</a></blockquote>')
    lines.append('  - type: "notist_video"')
    lines.append("    html: |")
    lines.append(f'      <iframe src="https://notist.ninja/embed/{i:06d}"></iframe>')
    lines.append("---")
    lines.append("")
    for _ in range(3):
        lines.append(f"<p>{sentence(rng, 60)}.</p>")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", type=int)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    for i in range(args.n):
        with open(os.path.join(args.out, f"talk-{i:06d}.md"), "w", encoding="utf-8") as f:
            f.write(document(rng, i))


if __name__ == "__main__":
    main()
