"""`faceapp review list|name|merge|forget`: the unknown faces a gallery keeps with retention "N days".

Only candidates the app stored (Settings > retention "N days") are in the gallery; with "this session" they live in
the running app's memory alone and the panel (Gallery > Who is this?) is the only place to review them. A group's
number is its smallest stored candidate id, so it stays while its faces stay. Candidates past retention are deleted
when the command opens the gallery, as the app does.
"""

from __future__ import annotations

import argparse
import sys
import time

from faceapp import settings
from faceapp.core.review import Group, Retention, ReviewStore
from faceapp.engine import Engine


def open_store(engine: Engine) -> ReviewStore:
    """The gallery's stored candidates under the saved retention (expired ones deleted first)."""
    saved = settings.load()
    store = ReviewStore(Retention.of(saved.review_retention, saved.review_days), engine.review_backend())
    expired = store.open()
    if expired:
        print(f"Deleted {expired} unknown face(s) past the retention setting.", file=sys.stderr)
    if store.unloaded:
        print(
            f"{store.unloaded} older unknown face(s) are not listed (beyond what the review holds in memory); "
            "they are deleted when they expire.",
            file=sys.stderr,
        )
    return store


def describe(group: Group) -> str:
    """One line of `review list`."""
    seen = time.strftime("%Y-%m-%d %H:%M", time.localtime(group.last_seen))
    return f"{group.id}\t{group.model}\tseen {group.times_seen} time(s)\tlast {seen}\t{group.crop_count} crop(s)"


def run(args: argparse.Namespace, engine: Engine) -> int:
    """Do `args.action` on the engine's gallery (closed after); 0, or a one-line error through the CLI's handler."""
    try:
        store = open_store(engine)
        if args.action == "list":
            groups = store.groups()
            for group in groups:
                print(describe(group))
            where = engine.gallery_label
            if store.retention.persistent:
                print(f"{len(groups)} group(s) of unknown faces kept for {store.retention.days} days in {where}.")
            else:
                print(
                    f"Retention is {store.retention.mode!r}: unknown faces are kept only in the running app, "
                    f"none in {where} (Settings > Who is this? to keep them for N days).",
                    file=sys.stderr,
                )
        elif args.action == "name":
            group = store.group(args.group)
            result = engine.enroll_samples(args.name, group.samples)
            store.remove(group)
            print(f"Named group {group.id}: {result.added} sample(s) added to {result.person.name!r}.")
        elif args.action == "merge":
            merged = store.merge(store.group(args.group).ids, store.group(args.other).ids)
            print(f"Merged groups {args.group} and {args.other} into group {merged.id} ({merged.times_seen} tracks).")
        else:
            gone = store.forget(store.group(args.group).ids)
            print(f"Forgot group {args.group}: {gone} track(s), their face crops and embeddings deleted.")
    finally:
        engine.close()
    return 0
