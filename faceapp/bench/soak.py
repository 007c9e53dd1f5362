"""`faceapp bench soak`: the real window on a looping video for N minutes: alive, memory over time, rates at both ends.

The window runs in a child process, so that a crash of the interpreter (PySide6 6.12's `none_dealloc` abort, issue 8)
is reported as a result with its time and signal instead of ending the benchmark with it. The child prints one JSON
line per sample; the parent prints progress, the table and writes --out JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from faceapp.core import memory
from faceapp.errors import BadInputError

# After this many minutes the resident set counts as warmed up (models loaded, torch's first passes done, caches
# filled); growth is measured from the first sample after it.
WARM_UP_MIN = 2.0
RSS_GROWTH_LIMIT_MB = 50.0
STATUS_TOLERANCE = 0.05  # issue 16: the status bar's rates within 5% of the measured ones


def rss_mb() -> float:
    """This process's resident set in MiB (Linux /proc; NaN elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def memory_breakdown() -> dict[str, float]:
    """Where the resident set lives (Linux, glibc; fields missing elsewhere), in MiB.

    anon_mb: anonymous memory (heap, arenas, mmapped blocks) from /proc/self/smaps_rollup; arenas: glibc's per-thread
    malloc arenas (64 MiB-aligned anonymous reservations, main heap not counted) and arena_rss_mb their resident
    part; malloc_*: mallinfo2 over all arenas (in_use: live blocks, free: freed but kept by malloc, mmapped: large
    blocks mapped directly); threads: the process's thread count.
    """
    out: dict[str, float] = {}
    try:
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
            if line.startswith("Anonymous:"):
                out["anon_mb"] = int(line.split()[1]) / 1024
        out["threads"] = float(len(os.listdir("/proc/self/task")))
        out.update(_arenas())
    except OSError:
        pass
    for key, value in (memory.malloc_stats() or {}).items():
        out[f"malloc_{key}_mb"] = value
    return out


def _arenas() -> dict[str, float]:
    """Count glibc's non-main arenas in /proc/self/smaps: an anonymous rw mapping at a 64 MiB boundary, followed by
    its ---p reserve, the two 64 MiB together (HEAP_MAX_SIZE on 64-bit); and the main arena's [heap] (brk)."""
    heap = 64 << 20
    maps: list[tuple[int, int, str, bool, int]] = []  # start, end, perms, anonymous, Rss kB
    main_heap = -1
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            start, end = (int(x, 16) for x in head[0].split("-"))
            maps.append((start, end, head[1], len(head) == 5, 0))
            if head[-1] == "[heap]":
                main_heap = len(maps) - 1
        elif head and head[0] == "Rss:" and maps:
            maps[-1] = (*maps[-1][:4], int(head[1]))
    count, rss_kb = 0, 0
    for i, (start, end, perms, anon, rss) in enumerate(maps):
        if not anon or start % heap or not perms.startswith("rw"):
            continue
        total, j = end - start, i + 1
        if j < len(maps) and maps[j][0] == end and maps[j][2].startswith("---") and maps[j][3]:
            total += maps[j][1] - maps[j][0]
        if total == heap:
            count, rss_kb = count + 1, rss_kb + rss
    main = maps[main_heap][4] / 1024 if main_heap >= 0 else float("nan")
    return {"arenas": float(count), "arena_rss_mb": rss_kb / 1024, "main_heap_rss_mb": main}


def none_refcount() -> int:
    """sys.getrefcount(None): it falls steadily under a leaking PySide6 on Python 3.11 (constant on 3.12+)."""
    return sys.getrefcount(None)


def _child(args: argparse.Namespace) -> int:
    """Run the window and print a JSON sample every `interval` seconds until `minutes` have passed."""
    memory.keep_triton_out()  # as cli.main does
    if not args.default_malloc:
        memory.configure_allocator()  # as app.run does, before models and threads
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tracemalloc

    if args.tracemalloc:
        tracemalloc.start(8)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from faceapp.bench.gui import _enroll, _pump, _Reference, _Run, _Truth

    home = args.home or Path(tempfile.mkdtemp(prefix="faceapp-bench-soak-"))  # the parent's, removed by it
    os.environ["FACEAPP_DATA_DIR"] = str(home / "data")
    os.environ["FACEAPP_CONFIG_DIR"] = str(home / "config")
    app = QApplication.instance() or QApplication([])
    _enroll(home / "g.sqlite3", [(item.split("=", 1)[0], item.split("=", 1)[-1]) for item in args.enroll])
    run = _Run(home / "g.sqlite3", args.source)
    w = run.window
    lateness: list[float] = []
    last = [time.perf_counter()]

    def on_probe() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) * 1000 - 10))
        last[0] = now

    probe = QTimer()
    probe.setInterval(10)
    probe.timeout.connect(on_probe)
    probe.start()
    # --truth: what the window shows against what is so (bench gui's checker), one checker per sample span. The
    # status bar and the clicks are checked at the end of each span; the sampled frames go to disk and their boxes
    # are checked after the last span, so that no detection runs on the GUI thread while the window is measured.
    spans: list[_Truth] = []

    def new_checker() -> _Truth | None:
        if not args.truth:
            return None
        # at most 20 frames a span on disk (0.7 MB each at 640x360: 0.8 GB for 30 minutes at --interval 30)
        checker = _Truth(w, every_ms=500, max_samples=20, dump=args.truth_dump, store=home / "truth-frames")
        checker.start()
        spans.append(checker)
        return checker

    checker = new_checker()
    start = time.monotonic()
    prev = (start, w.view.painted, w.session.captured, w.session.recognized)
    end = start + args.minutes * 60
    warm_snapshot: tracemalloc.Snapshot | None = None
    while time.monotonic() < end:
        _pump(min(args.interval, max(0.0, end - time.monotonic())))
        now = time.monotonic()
        span = max(now - prev[0], 1e-9)
        painted, captured, recognized = w.view.painted, w.session.captured, w.session.recognized
        # The status bar first, as the user sees it now: the readings of /proc below hold the GUI thread for a while
        # (results queue meanwhile), and read after them its rate looked at a stall this loop made (5-8% low).
        truth = checker.finish(recognized - prev[3], painted - prev[1], span) if checker is not None else {}
        sample = {
            "t_min": (now - start) / 60,
            "rss_mb": rss_mb(),
            "display_fps": (painted - prev[1]) / span,
            "captured_fps": (captured - prev[2]) / span,
            "recognition_fps": (recognized - prev[3]) / span,
            "source_fps": w.session.source_fps,
            "gui_latency_p95_ms": float(np.percentile(lateness, 95)) if lateness else float("nan"),
            "none_refcount": none_refcount(),
            "painted": painted,
            **memory_breakdown(),
            **truth,
        }
        if args.tracemalloc:
            sample["python_traced_mb"] = tracemalloc.get_traced_memory()[0] / (1 << 20)
            if warm_snapshot is None and sample["t_min"] >= WARM_UP_MIN:
                warm_snapshot = tracemalloc.take_snapshot()
        if checker is not None:
            checker = new_checker()
        lateness.clear()
        prev = (now, painted, captured, recognized)
        print(json.dumps(sample), flush=True)
    if checker is not None:
        checker.finish(0, 0, 1.0)  # the span cut short by the end: its frames are not checked
        spans.pop()
    if warm_snapshot is not None:  # where the Python heap grew after warm-up, by allocating line
        for stat in tracemalloc.take_snapshot().compare_to(warm_snapshot, "traceback")[:15]:
            print(f"tracemalloc {stat.size_diff / 1024:+.0f} KiB in {stat.count_diff:+d} blocks:", file=sys.stderr)
            print("\n".join("    " + line for line in stat.traceback.format()[-6:]), file=sys.stderr)
    probe.stop()
    run.close()
    from faceapp.ui.session import finish_threads

    finish_threads()  # as the app does: the child must not exit under a worker still inside a frame
    # The boxes of each span, checked now that the window is closed: with the GUI thread busy here, the frames its
    # capture thread sent would pile up unpainted (30 a second, 0.7 MB each at 640x360).
    try:
        reference = _Reference(w.live_detector) if spans else None
        for index, finished in enumerate(spans):
            print(json.dumps({"truth_span": index, **finished.check(reference)}), flush=True)
    except Exception as exc:  # the window ran its course: a failed check is the check's, not the window's
        print(json.dumps({"truth_error": f"{type(exc).__name__}: {exc}"}), flush=True)
    del app
    return 0


def _max_finite(values: Any) -> float:
    finite = [float(v) for v in values if np.isfinite(v)]
    return max(finite) if finite else float("nan")


def summarize(samples: list[dict[str, Any]], returncode: int, minutes: float) -> dict[str, Any]:
    """Alive or not, RSS growth after warm-up, and the rates of the first and last samples."""
    errors = [s["truth_error"] for s in samples if "truth_error" in s]
    samples = [s for s in samples if "truth_error" not in s]
    for checked_span in [s for s in samples if "truth_span" in s]:  # the boxes, checked after the last span
        samples.remove(checked_span)
        spans = [s for s in samples if "status_display_error" in s]
        if checked_span["truth_span"] < len(spans):
            spans[checked_span["truth_span"]].update({k: v for k, v in checked_span.items() if k != "truth_span"})
    died = returncode != 0
    reason = ""
    if returncode < 0:
        reason = f"killed by signal {signal.Signals(-returncode).name}"
    elif returncode > 0:
        reason = f"exited with code {returncode}"
    ran = samples[-1]["t_min"] if samples else 0.0
    warm = [s for s in samples if s["t_min"] >= min(WARM_UP_MIN, ran)] or samples
    growth = warm[-1]["rss_mb"] - warm[0]["rss_mb"] if warm else float("nan")
    truth = [s for s in samples if "status_display_error" in s]
    checked: dict[str, Any] = {}
    if truth:
        checked = {
            "truth": {
                "spans": len(truth),
                **{
                    k: sum(s.get(k, 0.0) for s in truth)
                    for k in ("drawn_boxes", "stale_boxes", "live_pass_missed", "clicks", "clicks_opened")
                },
                "spans_checked": sum("drawn_boxes" in s for s in truth),
                "check_error": errors[0] if errors else "",
                "clicks_gone_by": sum(s["clicks_gone_by"] for s in truth),
                "status_recognition_error_max": _max_finite(s["status_recognition_error"] for s in truth),
                "status_display_error_max": _max_finite(s["status_display_error"] for s in truth),
                "status_within_5pct": sum(
                    s["status_recognition_error"] <= STATUS_TOLERANCE and s["status_display_error"] <= STATUS_TOLERANCE
                    for s in truth
                ),
            }
        }
    return {
        **checked,
        "minutes_asked": minutes,
        "minutes_ran": ran,
        "alive": not died and ran >= minutes * 0.99 and bool(samples) and samples[-1]["display_fps"] > 0,
        "end": reason or "finished",
        "rss_start_mb": samples[0]["rss_mb"] if samples else float("nan"),
        "rss_after_warm_up_mb": warm[0]["rss_mb"] if warm else float("nan"),
        "rss_end_mb": samples[-1]["rss_mb"] if samples else float("nan"),
        "rss_max_mb": max((s["rss_mb"] for s in samples), default=float("nan")),
        "rss_growth_after_warm_up_mb": growth,
        "first": samples[0] if samples else None,
        "last": samples[-1] if samples else None,
        "none_refcount_change": samples[-1]["none_refcount"] - warm[0]["none_refcount"] if warm else 0,
        "samples": samples,
    }


def report_text(r: dict[str, Any]) -> str:
    """The soak's table, with each target's verdict."""
    growth = r["rss_growth_after_warm_up_mb"]
    ok_mem = growth <= RSS_GROWTH_LIMIT_MB
    lines = [
        f"ran {r['minutes_ran']:.1f} of {r['minutes_asked']:g} min: {'ALIVE' if r['alive'] else 'DIED'} ({r['end']})",
        f"RSS: start {r['rss_start_mb']:.0f} MiB, after {WARM_UP_MIN:g} min {r['rss_after_warm_up_mb']:.0f} MiB, "
        f"end {r['rss_end_mb']:.0f} MiB, max {r['rss_max_mb']:.0f} MiB",
        f"RSS growth after warm-up: {growth:+.1f} MiB (target <= {RSS_GROWTH_LIMIT_MB:g}: "
        f"{'met' if ok_mem else 'MISSED'})",
        f"None refcount change after warm-up: {r['none_refcount_change']:+d}",
    ]
    kept = [s.get("malloc_free_mb") for s in (r["first"], r["last"]) if s]
    if len(kept) == 2 and None not in kept:
        how = r.get("allocator", "allocator not recorded")
        lines.append(f"freed but kept by malloc: {kept[0]:.0f} MiB first, {kept[1]:.0f} MiB last ({how})")
    for key in ("first", "last"):
        s = r[key]
        if s:
            lines.append(
                f"{key:5} sample at {s['t_min']:5.1f} min: display {s['display_fps']:.1f} / source "
                f"{s['source_fps']:.2f} fps, recognition {s['recognition_fps']:.1f} updates/s, "
                f"GUI p95 {s['gui_latency_p95_ms']:.1f} ms"
            )
    t = r.get("truth")
    if t:
        clicks_ok = t["clicks_opened"] == t["clicks"] and t["clicks_gone_by"] == 0
        boxes_ok = t["stale_boxes"] == 0 and t["drawn_boxes"] > 0 and t["spans_checked"] == t["spans"]
        failed = f", the check failed: {t['check_error']}" if t.get("check_error") else ""
        lines += [
            f"stale boxes drawn (over no face): {t['stale_boxes']:.0f} of {t['drawn_boxes']:.0f} checked, over "
            f"{t['spans_checked']} of {t['spans']} spans (target 0: {'met' if boxes_ok else 'MISSED'}{failed}); "
            f"{t['live_pass_missed']:.0f} more on faces the live full pass does not find",
            f"clicks on drawn boxes that opened enroll: {t['clicks_opened']:.0f} of {t['clicks']:.0f}, "
            f"{t['clicks_gone_by']:.0f} 'already gone by' (target all, 0: "
            f"{'met' if clicks_ok and t['clicks'] > 0 else 'MISSED'})",
            f"status bar within 5% of the measured rates in {t['status_within_5pct']} of {t['spans']} spans; worst "
            f"recognition {100 * t['status_recognition_error_max']:.1f}%, display "
            f"{100 * t['status_display_error_max']:.1f}% (target every span: "
            f"{'met' if t['status_within_5pct'] == t['spans'] else 'MISSED'})",
        ]
    lines.append("\n  min    RSS MiB  display  recog.  GUI p95 ms")
    for s in r["samples"]:
        lines.append(
            f"{s['t_min']:5.1f}  {s['rss_mb']:9.1f}  {s['display_fps']:7.1f}  {s['recognition_fps']:6.1f}  "
            f"{s['gui_latency_p95_ms']:10.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run the soak in a child process; 0 when the window stayed alive, 1 when it died, 2 on bad input."""
    parser = argparse.ArgumentParser(prog="faceapp bench soak", description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="a video file, played in a loop as the camera")
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to run (default 30)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between samples (default 30)")
    parser.add_argument("--enroll", action="append", default=[], metavar="NAME=IMAGE", help="enroll first")
    parser.add_argument("--out", type=Path, help="write the samples and summary as JSON here")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="trace Python allocations (slow): growth by line after warm-up"
    )
    parser.add_argument(
        "--default-malloc", action="store_true", help="keep glibc's dynamic mmap threshold (the app fixes it)"
    )
    parser.add_argument(
        "--truth",
        action="store_true",
        help="also check what the window shows (stale boxes, clicks on boxes, status bar rates) in every span",
    )
    parser.add_argument(
        "--truth-dump",
        type=Path,
        metavar="DIR",
        help="with --truth: write each frame with a drawn box the live pass does not find as a PNG here",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)  # the child's folder (the parent's)
    args = parser.parse_args(argv)
    if not args.source.is_file():
        raise BadInputError(f"{args.source}: no such video file.")
    if args.minutes <= 0 or args.interval <= 0:
        raise BadInputError("--minutes and --interval must be positive.")
    if args.child:
        return _child(args)
    with tempfile.TemporaryDirectory(prefix="faceapp-bench-soak-") as home:
        return _parent(args, argv, Path(home))


def _parent(args: argparse.Namespace, argv: list[str], home: Path) -> int:
    """Run the child in `home` and report on what it printed."""
    cmd = [sys.executable, "-m", "faceapp.bench.soak", "--child", "--home", str(home), *argv]
    samples: list[dict[str, Any]] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("{"):
                samples.append(json.loads(line))
                s = samples[-1]
                if "t_min" in s:
                    print(
                        f"soak {s['t_min']:5.1f} min  RSS {s['rss_mb']:.0f} MiB  display {s['display_fps']:.1f} fps  "
                        f"recognition {s['recognition_fps']:.1f}/s",
                        file=sys.stderr,
                        flush=True,
                    )
        returncode = child.wait()
    result = summarize(samples, returncode, args.minutes)
    result["allocator"] = "glibc default" if args.default_malloc else "mmap threshold fixed, as in the app"
    print(report_text(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        print(f"\nwrote {args.out}")
    return 0 if result["alive"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
