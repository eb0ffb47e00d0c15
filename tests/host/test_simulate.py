"""`lightmeter node --simulate`: reproducible chains with sealer-set changes made by real
consensus-precompile transactions, every header checked by the light client."""

import subprocess
import sys

from lightmeter.client import check
from lightmeter_host.node.chain import Chain
from lightmeter_host.node.simulate import simulate
from nodeutil import Client
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)


def trust_for(chain, sealers):
    return {"chain_id": chain.chain_id, "group_id": chain.group_id, "crypto": chain.crypto,
            "sealers": [{"node_id": n.hex(), "weight": w} for n, w in sorted(sealers.items())]}


def test_set_changes_by_transactions_and_every_header_verifies():
    chain = Chain(seed=b"sim-test")
    initial = dict(chain.consensus)
    seen = []
    made = simulate(chain, 30, 4, "sim-test", progress=lambda done, total, n: seen.append((done, total, n)))
    assert chain.height() == 30
    assert seen == [(i, 30, i) for i in range(1, 31)]
    assert len(made) == 4 and {name for _, name, _, _ in made} <= {"addSealer", "setWeight", "remove"}
    assert all(1 <= n < 30 for n, _, _, _ in made)  # each change shows in a later header of the run
    assert len({name for _, name, _, _ in made}) >= 2  # a mix, not one kind
    expected = dict(initial)
    by_block = {}
    for n, name, node, weight in made:
        by_block.setdefault(n, []).append((name, node, weight))
    for n in range(1, 31):
        block = chain.block_json(n)
        got = dict(zip((bytes.fromhex(s[2:]) for s in block["sealerList"]), block["consensusWeights"]))
        assert got == expected, n
        res = check.check_header(block, trust_for(chain, expected))
        assert res["valid"], (n, res)
        # every block holds transactions; the change transactions went to the precompile and succeeded
        txs = chain.store.block_txs(n)
        assert txs and all(rc["status"] == 0 for _, _, _, rc in txs)
        assert len(txs) >= 1 + len(by_block.get(n, []))
        for name, node, weight in by_block.get(n, []):
            if name == "remove":
                expected.pop(node)
            else:
                expected[node] = weight
            assert node in chain.keys  # the node can sign for every sealer it adds
    assert expected == chain.consensus != initial
    assert len(chain.consensus) >= 1


def test_same_seed_same_hashes_and_appending():
    a, b = Chain(seed=b"s1"), Chain(seed=b"s1")
    simulate(a, 8, 3, b"s1")
    simulate(b, 8, 3, b"s1")
    assert a.hashes == b.hashes and len(a.hashes) == 9
    c = Chain(seed=b"s1")
    simulate(c, 8, 3, b"other")
    assert c.hashes[1:] != a.hashes[1:] and c.hashes[0] == a.hashes[0]
    simulate(a, 4, 1, b"s1")  # appends: device sequence numbers and nonces continue
    assert a.height() == 12


def test_appends_to_a_stored_chain_and_replays(tmp_path):
    chain = Chain(seed=b"s2", data_dir=str(tmp_path), crypto="sm")
    simulate(chain, 5, 2, b"s2")
    hashes = list(chain.hashes)
    chain.store.close()
    again = Chain(data_dir=str(tmp_path))  # replay checks every stored block and set change
    assert again.hashes == hashes
    simulate(again, 3, 1, b"s2")
    assert again.height() == 8
    again.store.close()


def test_cli_builds_then_serves(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "lightmeter_host.cli", "node", "--simulate", "12",
                             "--set-changes", "2", "--seed", "x", "--data", str(tmp_path / "chain"),
                             "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        url = None
        for line in proc.stdout:
            if "JSON-RPC" in line:
                url = line.split()[-1]
                break
        assert url, "the node printed no URL"
        c = Client(url)
        assert c("getBlockNumber") == 12
        first = c("getBlockByNumber", 1)["sealerList"]
        last = c("getBlockByNumber", 12)["sealerList"], c("getBlockByNumber", 12)["consensusWeights"]
        assert (first, [1] * len(first)) != last  # the set changed during the run
    finally:
        proc.kill()
        proc.wait()


def test_cli_refuses_set_changes_without_simulate():
    p = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "node", "--set-changes", "2"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode == 2 and "--simulate" in p.stderr
