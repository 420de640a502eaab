#!/usr/bin/env python3
"""SQLite alone: the statements of an edit of a talk, without Lectern, its driver or HTTP.

Usage: bench/write_sqlite.py DATABASE_FILE [WRITES]   (default 2,000)

On a copy of DATABASE_FILE (a file `seed_talks` filled; the file itself is left as it is),
with the settings `lectern` opens SQLite with (WAL, synchronous NORMAL, foreign keys,
wal_autocheckpoint 10000), one write at a time, each to the next published talk in turn, as
`service::editing::update_talk_from` makes it: BEGIN IMMEDIATE; the talk's UPDATE guarded by
its version; the content version's bump; the event's INSERT (holding a payload the size of
the file's last event); COMMIT. Two kinds of edit: a new title (the UPDATE names the search
text, so the full-text index's trigger runs) and one that names only the version and who
changed the talk when (no index but the primary key's). Prints the CPU time of this process
per write (Python's own loop included, a few µs).
"""
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid


def measure(path, writes, kind):
    c = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "wal_autocheckpoint=10000"):
        c.execute("PRAGMA " + pragma)
    talks = [list(r) for r in c.execute(
        "SELECT id, version, title, search_text FROM talks WHERE status = 'published'")]
    if not talks:
        sys.exit(f"{path}: no published talk; fill it with seed_talks")
    row = c.execute("SELECT payload FROM change_events ORDER BY seq DESC LIMIT 1").fetchone()
    payload = row[0] if row else "{}"
    rounds = [(i, talks[i % len(talks)]) for i in range(writes // 10 + writes)]
    started = None
    for i, talk in rounds:
        if i == writes // 10:
            started = time.process_time()
        talk_id, version = talk[0], talk[1]
        now = "2026-01-01T00:00:00.%06d+00:00" % (i % 1000000)
        c.execute("BEGIN IMMEDIATE")
        if kind == "title":
            old = talk[2]
            talk[2] = old[:-len(" (edited)")] if old.endswith(" (edited)") else old + " (edited)"
            talk[3] = talk[3].replace(old, talk[2], 1)
            changed = c.execute(
                "UPDATE talks SET title = ?, search_text = ?, version = ?, updated_at = ?, updated_by = ?"
                " WHERE id = ? AND version = ?",
                (talk[2], talk[3], version + 1, now, "write-sqlite", talk_id, version)).rowcount
        else:
            changed = c.execute(
                "UPDATE talks SET version = ?, updated_at = ?, updated_by = ? WHERE id = ? AND version = ?",
                (version + 1, now, "write-sqlite", talk_id, version)).rowcount
        if changed != 1:
            sys.exit(f"talk {talk_id.hex() if isinstance(talk_id, bytes) else talk_id} was not at version {version}")
        talk[1] = version + 1
        c.execute("UPDATE content_version SET version = version + 1 WHERE id = 1")
        c.execute(
            "INSERT INTO change_events (id, occurred_at, aggregate_type, aggregate_id, type, version, actor, payload, public)"
            " VALUES (?, ?, 'talk', ?, 'talk.updated', ?, 'write-sqlite', ?, 1)",
            (uuid.uuid4().bytes, now, talk_id, version + 1, payload))
        c.execute("COMMIT")
    cpu = (time.process_time() - started) / writes
    c.close()
    print(f"SQLite alone, {kind:<24} {1e6 * cpu:8.1f} µs CPU per write "
          f"({len(talks)} talks, event payload {len(payload)} bytes)")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    source = sys.argv[1]
    writes = int(sys.argv[2]) if len(sys.argv) == 3 else 2000
    with tempfile.TemporaryDirectory() as work:
        for kind in ("title", "version and who"):
            copy = os.path.join(work, "copy.db")
            for suffix in ("", "-wal"):
                if os.path.exists(source + suffix):
                    shutil.copyfile(source + suffix, copy + suffix)
            measure(copy, writes, "title" if kind == "title" else kind)
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(copy + suffix):
                    os.remove(copy + suffix)


if __name__ == "__main__":
    main()
