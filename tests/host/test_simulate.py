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


def test_background_receipts_and_node_signatures_as_the_slow_path_makes_them(tmp_path):
    """The fast paths of busy-chain blocks (a receipt built without its JSON, sealer signatures
    by libsecp256k1) give the very bytes of the firmware's path, so a seed gives one chain."""
    from lightmeter.chain import receipt as receipt_mod
    from lightmeter_host.chain import backends
    from lightmeter_host.node import background

    backends.install()
    for crypto in ("ecdsa", "sm"):
        chain = Chain(crypto=crypto, data_dir=str(tmp_path / crypto), seed=b"bg")
        bg = chain.background
        for n, i in ((1, 0), (2, 3), (9000, 49)):
            slow = receipt_mod.from_json(bg.receipt(n, i)).hash(chain.suite)
            assert bg._receipt(n, i).hash(chain.suite) == slow
        key = chain.keys[next(iter(chain.consensus))]
        digest = chain.suite.hash(b"block")
        assert background.sign_node(crypto, chain.suite, key, digest) == chain.suite.sign_node(key, digest)
        chain.store.close()


def test_a_node_stops_in_the_middle_of_a_run_of_background_blocks(tmp_path):
    """after_block may append thousands of blocks (demo --blocks-between); stopping the node ends
    the run at a block boundary and closes the store only once the sealer thread is out."""
    import threading
    import time
    from lightmeter_host.chain import txbuild
    from lightmeter_host.node.server import NodeServer
    from lightmeter_host.node import simulate as sim

    chain = Chain(data_dir=str(tmp_path / "node"), seed=b"stop")
    sim.block_clock(chain)
    chain.background_per_block = 5
    started = threading.Event()

    def gap(n):
        started.set()
        sim.simulate(chain, 100000, readings=False)
    chain.after_block = gap
    srv = NodeServer(chain, "127.0.0.1", 0).start()
    tx = txbuild.make(chain.chain_id, chain.group_id, 500, "n-1", None, b"\x60\x00")
    _, raw = txbuild.sign(tx, chain.crypto, b"\x01" * 32)
    threading.Thread(target=lambda: Client(srv.url)("sendTransaction", "0x" + raw.hex(), False),
                     daemon=True).start()
    assert started.wait(60)
    while chain.height() < 20:
        time.sleep(0.05)
    t0 = time.time()
    srv.stop()
    assert time.time() - t0 < 30 and not any(t.is_alive() for t in srv._threads)
    stopped_at = Chain(data_dir=str(tmp_path / "node")).height()
    assert 20 <= stopped_at < 100000
