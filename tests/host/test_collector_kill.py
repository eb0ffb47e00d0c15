"""The collector killed from outside (SIGKILL at seeded random moments) and restarted, on SQLite
and on PostgreSQL: once it finishes, every good reading the node holds is stored exactly once, no
rejection or gap twice, and `lightmeter collector verify` finds the database clean.

tests/host/test_collector.py stops the walk at two hook points inside the process; here the kill
comes at any instruction of a real `lightmeter collect` subprocess. The chain is the standard
script followed by STEADY blocks of good readings, long enough for a walk to be cut in its middle.
Most kills are timed from the node's side: the test waits until the collector asks for block
checkpoint + k (k seeded), then sleeps a seeded fraction of one block's walking time and kills, so
the kill lands inside the walk (in a node call, in the checks, inside a commit). Since the
collector asks for block n + 1 only once block n is committed, each such kill must leave the
database's resume point at checkpoint + k - 1 or later, and the test counts the kills that left
it short of the head: proof that they cut a walk in progress. A few kills are timed from the
spawn instead, to land while Python starts or the database is opened.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from collector_chain import FleetChain, STANDARD_DUPLICATES, STANDARD_GAPS, STANDARD_GOOD, STANDARD_REJECTED
from pgserver import db_url, pg_server  # noqa: F401  (fixtures)
from test_collector import kinds, stored
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)
KILLS = 10
AT_START = {0, 5}  # kills timed from the spawn; the others from the node's side, inside the walk
MIN_MID_WALK = 6   # of the KILLS - len(AT_START) walk kills, at least this many left the head unreached
STEADY = 45        # blocks of good readings after the standard script's 5
MAX_AHEAD = 6      # k: the kill waits for a request of block checkpoint + 1 .. checkpoint + MAX_AHEAD
SEED = 20240612


class BlockRequests:
    """The node's getBlockByNumber requests as they come: wait_for(n) until block n is asked for."""

    def __init__(self, fc):
        self.cond = threading.Condition()
        self.asked = []  # (monotonic time, block number)
        fc.lie("getBlockByNumber", self._answer)

    def _answer(self, real, number, only_header=True, only_tx_hash=True):
        with self.cond:
            self.asked.append((time.monotonic(), int(number)))
            self.cond.notify_all()
        return real(number, only_header, only_tx_hash)

    def mark(self):
        with self.cond:
            return len(self.asked)

    def since(self, mark):
        with self.cond:
            return self.asked[mark:]

    def wait_for(self, number, mark, proc, timeout):
        """True once block number is asked for after mark; False if proc ends first or on timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(n == number for _, n in self.asked[mark:]):
                if proc.poll() is not None or time.monotonic() >= deadline:
                    return False
                self.cond.wait(0.05)
            return True


@pytest.fixture(scope="module")
def long_chain():
    fc = FleetChain().standard()
    good = fc.steady(STEADY)
    watch = BlockRequests(fc)
    yield fc, watch, STANDARD_GOOD | good
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


def _resume_point(url):
    try:
        return (stored(url)["checkpoint"] or {}).get("number", 0)
    except Exception:  # noqa: BLE001 (killed before the schema was made)
        return 0


def _timing(fc, watch, trust, fleet, url):
    """(seconds from spawn to the walk's first block request, mean seconds between block requests)
    of one whole run on a database of its own."""
    mark = watch.mark()
    t0 = time.monotonic()
    p = _collect(fc, trust, fleet, url)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    asked = [t for t, _ in watch.since(mark)]
    return asked[0] - t0, (asked[-1] - asked[0]) / (len(asked) - 1)


def test_collector_killed_at_random_moments_resumes_with_every_reading_once(long_chain, db_url, tmp_path):
    fc, watch, good = long_chain
    head = fc.chain.height()
    trust, fleet = _files(fc, tmp_path)
    startup, per_block = _timing(fc, watch, trust, fleet, "sqlite://" + str(tmp_path / "timing.db"))
    rnd = random.Random(SEED)
    mid_walk, cuts = 0, []
    for i in range(KILLS):
        before = _resume_point(db_url)
        mark = watch.mark()
        p = _collect(fc, trust, fleet, db_url)
        k = None
        if i in AT_START:
            time.sleep(rnd.uniform(0.0, 1.0) * startup)
        else:
            assert before + 4 <= head, "the chain is too short for %d kills: %s" % (KILLS, cuts)
            k = rnd.randint(1, min(MAX_AHEAD, head - before - 3))
            assert watch.wait_for(before + k, mark, p, 120), \
                "the collector ended before asking for block %d: %s" % (before + k, p.communicate()[1])
            time.sleep(rnd.uniform(0.0, 1.0) * per_block)
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=60)
        killed = p.returncode == -signal.SIGKILL  # not when the run ended first (a faster machine now)
        after = _resume_point(db_url)
        cuts.append((k, before, after, killed))
        assert after >= before
        if k is not None:
            # block before + k was asked for, so every block before it had been committed
            assert after >= before + k - 1, cuts
            mid_walk += killed and after < head
    print("kills (k, resume point before, after, killed):", cuts)
    assert mid_walk >= MIN_MID_WALK, "kills that cut a walk short of block %d: %d %s" % (head, mid_walk, cuts)
    p = _collect(fc, trust, fleet, db_url)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    got = stored(db_url)
    assert len(got["readings"]) == len({(m, s) for m, s, _ in got["readings"]}) == len(good)
    assert {(m, s) for m, s, _ in got["readings"]} == good
    assert kinds(db_url) == dict(STANDARD_REJECTED, **STANDARD_DUPLICATES)
    assert sorted(got["gaps"]) == sorted(set(got["gaps"])) and set(got["gaps"]) == STANDARD_GAPS
    assert got["checkpoint"]["number"] == head
    r = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "collector", "verify", "--db", db_url,
                        "--trust", str(trust), "--fleet", str(fleet), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["good"] == len(good)
