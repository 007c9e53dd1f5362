"""kill -9 in the middle of enrollments, removals and re-keying leaves a consistent gallery (every time)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from faceapp.storage import GalleryRepository
from tests.conftest import REPO

WRITER = """
import sys, numpy as np
from faceapp.storage import GalleryRepository
from tests.storage.storage_fakes import make_sample, unit
repo = GalleryRepository(sys.argv[1])
i = int(sys.argv[2])
print("ready", flush=True)
while True:
    i += 1
    repo.enroll(f"P{i % 7}", [(make_sample(i), unit(i, dim=32)), (make_sample(i + 1), unit(i + 1, dim=32))], "m")
    if i % 3 == 0:
        try:
            repo.remove_person(f"P{(i + 2) % 7}")
        except Exception:
            pass
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_kill_9_during_writes_never_leaves_a_half_change(tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite3"
    GalleryRepository(db).close()
    rng = np.random.default_rng(0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    for round_ in range(12):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(round_ * 1000)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.05, 0.4)))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            samples = conn.execute("SELECT count(*) FROM samples").fetchone()[0]
            embeddings = conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
            assert samples == embeddings  # a sample and its embedding are written together
            assert samples % 2 == 0  # every enrollment adds two samples or none
            orphans = conn.execute("SELECT count(*) FROM samples WHERE person_id NOT IN (SELECT id FROM people)")
            assert orphans.fetchone()[0] == 0
        finally:
            conn.close()
    with GalleryRepository(db) as repo:
        people, samples = repo.counts()
        assert people > 0  # the writers did get work done between the kills
        assert samples == len(repo.embeddings_for("m")[0])
