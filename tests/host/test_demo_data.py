"""`lightmeter demo --data DIR`: everything kept in DIR, the collector's database among it, and
that database re-verifiable offline — and caught when someone edits it by hand."""

import json
import sqlite3
import subprocess
import sys

import pytest

from lightmeter_host.hardware import fleet

LIGHTMETER = [sys.executable, "-m", "lightmeter_host.cli"]


def lightmeter(*args, timeout=300):
    return subprocess.run(LIGHTMETER + list(args), capture_output=True, text=True, timeout=timeout)


def test_demo_keeps_a_collector_database_that_verifies_and_catches_a_hand_edit(tmp_path):
    data = tmp_path / "run"
    r = lightmeter("demo", "--readings", "3", "--data", str(data), "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads(r.stdout)
    assert (s["collected"], s["collector_verified"]) == (3, 3)
    assert sorted(p.name for p in data.iterdir()) == ["collector.db", "device", "fleet.json", "node"]
    [device] = fleet.load(data / "fleet.json")
    assert device["meter_id"] == "demo-meter-1" and device["board"] == "virtual"

    url = "sqlite://" + str(data / "collector.db")
    with sqlite3.connect(data / "collector.db") as c:
        rows = c.execute("SELECT meter_id, seq, verified, address FROM readings ORDER BY seq").fetchall()
    assert [(m, q, bool(v), a) for m, q, v, a in rows] == [
        ("demo-meter-1", q, True, device["address"]) for q in (1, 2, 3)]

    ok = lightmeter("collector", "verify", "--db", url, "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["ok"] is True

    with sqlite3.connect(data / "collector.db") as c:
        c.execute("UPDATE readings SET value = value * 2 WHERE seq = 2")
    bad = lightmeter("collector", "verify", "--db", url)
    assert bad.returncode == 1
    named = [line for line in (bad.stdout + bad.stderr).splitlines() if line.startswith("BAD")]
    assert len(named) == 1 and "seq 2" in named[0] and "value" in named[0], bad.stdout + bad.stderr


def test_demo_refuses_a_data_directory_in_use(tmp_path):
    (tmp_path / "something").write_text("x")
    r = lightmeter("demo", "--data", str(tmp_path))
    assert r.returncode == 2
    assert "not an empty directory" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["something"]
