"""The collector killed from outside (SIGKILL at seeded random moments) and restarted, on SQLite
and on PostgreSQL: once it finishes, every good reading the node holds is stored exactly once, no
rejection or gap twice, and `lightmeter collector verify` finds the database clean.

tests/host/test_collector.py stops the walk at two hook points inside the process; here the kill
comes at any instruction of a real `lightmeter collect` subprocess: while Python starts, while it
asks the node, inside a transaction, between commits.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from collector_chain import FleetChain, STANDARD_DUPLICATES, STANDARD_GAPS, STANDARD_GOOD, STANDARD_REJECTED
from pgserver import db_url, pg_server  # noqa: F401  (fixtures)
from test_collector import kinds, stored
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)
KILLS = 10
SEED = 20240612


@pytest.fixture(scope="module")
def standard():
    fc = FleetChain().standard()
    yield fc
    fc.stop()


def _files(fc, tmp_path):
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(fc.genesis))
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"version": 1, "devices": fc.entries}))
    return trust, fleet


def _collect(fc, trust, fleet, url):
    return subprocess.Popen([sys.executable, "-m", "lightmeter_host.cli", "collect", "--rpc", fc.url,
                             "--trust", str(trust), "--fleet", str(fleet), "--db", url, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def test_collector_killed_at_random_moments_resumes_with_every_reading_once(standard, db_url, tmp_path):
    trust, fleet = _files(standard, tmp_path)
    # how long one whole run takes here, on a database of its own: the kills fall inside it
    start = time.monotonic()
    p = _collect(standard, trust, fleet, "sqlite://" + str(tmp_path / "timing.db"))
    p.communicate(timeout=120)
    full = time.monotonic() - start
    rnd = random.Random(SEED)
    killed = 0
    seen = set()  # checkpoints found after the kills (the standard chain walks in milliseconds)
    for _ in range(KILLS):
        p = _collect(standard, trust, fleet, db_url)
        try:
            p.wait(timeout=rnd.uniform(0.3, 1.0) * full)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            killed += 1
        p.communicate(timeout=60)
        try:
            seen.add((stored(db_url)["checkpoint"] or {}).get("number"))
        except Exception:  # noqa: BLE001 (killed before the schema was made)
            seen.add(None)
    assert killed >= 1, "no run was cut short (%d kills)" % KILLS
    p = _collect(standard, trust, fleet, db_url)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    got = stored(db_url)
    assert len(got["readings"]) == len({(m, s) for m, s, _ in got["readings"]}) == len(STANDARD_GOOD)
    assert {(m, s) for m, s, _ in got["readings"]} == STANDARD_GOOD
    assert kinds(db_url) == dict(STANDARD_REJECTED, **STANDARD_DUPLICATES)
    assert sorted(got["gaps"]) == sorted(set(got["gaps"])) and set(got["gaps"]) == STANDARD_GAPS
    assert got["checkpoint"]["number"] == 5
    r = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "collector", "verify", "--db", db_url,
                        "--trust", str(trust), "--fleet", str(fleet), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["good"] == len(STANDARD_GOOD)
