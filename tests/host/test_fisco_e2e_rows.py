"""The paths that use a node, against more than one row of docs/fisco-versions.md:
`lightmeter node --fisco-version 3.2` (decimal nonces, proofs) and `3.0` (no proofs, contract
addresses without 0x, genesis version 0). Where the light client can work it must, with the same
results as on the newest release; where it cannot (no proofs before v3.2.0) it must say why."""

import json
import os
import subprocess
import sys

import pytest

from lightmeter_host import demo
from lightmeter_host.collector import ingest
from lightmeter_host.node.chain import Chain

from collector_chain import FleetChain, reading_bytes, reverified
from nodeutil import SimulatedNode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sync(url, trust_path):
    return subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "sync", "--rpc", url, "--trust",
                           str(trust_path), "--json"], capture_output=True, text=True, cwd=ROOT, timeout=600)


@pytest.mark.parametrize("version,changes", [("3.2", 2), ("3.0", 0), ("3.0", 2)])
def test_sync_against_a_release(tmp_path, version, changes):
    sim = SimulatedNode(Chain(seed=b"rows-" + version.encode(), release=version), 8, changes, "r")
    try:
        trust = tmp_path / "genesis.json"
        trust.write_text(json.dumps(sim.genesis))
        r = sync(sim.url, trust)
        if version == "3.0" and changes:
            # a sealer-set change must be proven, and a 3.0 node prints no proof
            assert r.returncode != 0 and "FISCO BCOS < 3.2.0" in r.stderr + r.stdout, (r.stdout, r.stderr)
            return
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout.strip().splitlines()[-1])
        assert out["number"] == sim.chain.height() and out["hash"] == "0x" + sim.chain.hashes[-1].hex()
    finally:
        sim.stop()


@pytest.mark.parametrize("version", ["3.2", "3.0"])
def test_collector_against_a_release(tmp_path, version):
    fc = FleetChain(seed=b"collector-" + version.encode(), release=version)
    try:
        fc.device("d0", "m-0")
        fc.block([fc.record("d0", 1, reading_bytes("m-0", 1, "ecdsa")),
                  fc.record("d0", 2, reading_bytes("m-0", 2, "ecdsa"))])
        url = "sqlite://" + str(tmp_path / "c.db")
        if version == "3.0":
            with pytest.raises(ingest.CollectError, match=r"proof unavailable from this node \(FISCO BCOS < 3\.2\.0\)"):
                ingest.collect(fc.url, fc.genesis, fc.entries, url)
            return
        out = ingest.collect(fc.url, fc.genesis, fc.entries, url)
        assert (out["verified"], out["rejected"]) == (2, 0)
        rep = reverified(url)
        assert rep["ok"] and rep["good"] == 2
    finally:
        fc.stop()


def test_demo_against_fisco_3_2():
    # node (v3.2 JSON: decimal nonces), virtual board with the real firmware, relay, sync on the
    # device, collector: every reading anchored, verified on the device and by the collector
    s = demo.run(readings=2, runtime="python", quiet=True, timeout=240, fisco_version="3.2")
    assert s["ok"], s
    assert s["collected"] == 2 and s["collector_verified"] == 2


def test_node_command_answers_as_the_release_asked():
    from nodeutil import Client

    p = subprocess.Popen([sys.executable, "-m", "lightmeter_host.cli", "node", "--fisco-version", "3.0",
                          "--listen", "127.0.0.1:0", "--seed", "x"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        lines = [p.stdout.readline() for _ in range(3)]
        assert "answers as    FISCO BCOS 3.0 (compatibility_version 3.0.0)" in lines[1], lines
        c = Client(lines[2].split()[-1])
        assert c("getSystemConfigByKey", "compatibility_version")["value"] == "3.0.0"
        assert c("getBlockByNumber", 0, True, True)["version"] == 0
    finally:
        p.terminate()
        p.wait(30)
    r = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "node", "--fisco-version", "3.17"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and "--fisco-version" in r.stderr
