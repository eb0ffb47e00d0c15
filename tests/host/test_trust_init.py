"""`lightmeter trust init`: a TRUST.json taken from a node, checked, confirmed by an operator."""

import json
import os
import subprocess
import sys

import pytest

from lightmeter.client import check, trust as trust_mod
from lightmeter_host.lightclient import trustinit
from lightmeter_host.node.chain import Chain
from lightmeter_host.node.server import NodeServer
from lightmeter_host.node.simulate import simulate
from nodeutil import Client, answer_with, start_node
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)


def lm(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "trust", "init", *args],
                          capture_output=True, text=True, cwd=ROOT, input=stdin, timeout=120)


@pytest.fixture(scope="module")
def node():
    chain = Chain(crypto="sm", seed=b"trust-init")
    simulate(chain, 6, 2, b"trust-init")  # sealer-set changes: the set at block 1 is not the latest
    srv = NodeServer(chain, "127.0.0.1", 0).start()
    yield srv, Client(srv.url)
    srv.stop()


def node_set(c):
    return sorted((bytes.fromhex(s["nodeID"]), s["weight"]) for s in c("getSealerList"))


def test_yes_prints_the_nodes_set_at_the_latest_block(node):
    srv, c = node
    p = lm("--rpc", srv.url, "--yes")
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    t = trust_mod.from_json(obj)
    assert (t.chain_id, t.group_id, t.crypto) == ("chain0", "group0", "sm")
    assert t.sealers == node_set(c)
    assert t.number == c("getBlockNumber") == 6 and obj["hash"] == c("getBlockHashByNumber", 6)
    assert check.check_header(c("getBlockByNumber", 6), obj)["valid"]
    # the operator was shown the set, its total weight and quorum, and the header
    total = sum(w for _, w in t.sealers)
    assert "quorum %d" % trust_mod.quorum(total) in p.stderr and obj["hash"] in p.stderr
    assert "Trust this sealer set?" not in p.stderr


def test_interactive_yes_writes_out_file(node, tmp_path):
    srv, c = node
    out = tmp_path / "trust.json"
    p = lm("--rpc", srv.url, "--number", "1", "--out", str(out), stdin="y\n")
    assert p.returncode == 0, p.stderr
    assert "Trust this sealer set? [y/N]" in p.stderr and p.stdout == ""
    obj = json.loads(out.read_text())
    block = c("getBlockByNumber", 1)
    assert obj["number"] == 1 and obj["hash"] == block["hash"]
    assert [s["node_id"] for s in obj["sealers"]] == block["sealerList"]
    assert check.check_header(block, obj)["valid"]
    assert os.listdir(tmp_path) == ["trust.json"]  # no temporary file left behind


def test_interactive_no_writes_nothing(node, tmp_path):
    srv, _ = node
    out = tmp_path / "trust.json"
    p = lm("--rpc", srv.url, "--out", str(out), stdin="n\n")
    assert p.returncode == 1 and not out.exists() and p.stdout == ""
    assert "not trusted" in p.stderr


def test_no_answer_and_no_yes_is_refused(node):
    srv, _ = node
    p = lm("--rpc", srv.url, stdin="")
    assert p.returncode == 2 and p.stdout == ""
    assert "--yes" in p.stderr and "Traceback" not in p.stderr


def test_genesis_checkpoint(node):
    srv, c = node
    p = lm("--rpc", srv.url, "--number", "0", "--yes")
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert obj["number"] == 0 and check.check_header(c("getBlockByNumber", 0), obj)["valid"]


@pytest.mark.parametrize("args,needle", [(("--number", "99"), "beyond"), (("--number", "-1"), "negative")])
def test_bad_numbers(node, args, needle):
    srv, _ = node
    p = lm("--rpc", srv.url, "--yes", *args)
    assert p.returncode == 2 and needle in p.stderr and "Traceback" not in p.stderr


def test_unreachable_node():
    p = lm("--rpc", "http://127.0.0.1:1", "--yes")
    assert p.returncode == 2 and "cannot reach" in p.stderr and len(p.stderr.splitlines()) == 1


def _lying(srv, method, lie):
    """Answer method with lie(the real answer)."""
    answer_with(srv.httpd.methods.table, method, lambda real, *a: lie(real(*a)))


def test_node_whose_sealer_list_disagrees_is_refused():
    srv, c = start_node(crypto="ecdsa")
    try:
        simulate(srv.chain, 1, 0, b"x")

        def lie(sealers):
            sealers[0]["weight"] += 1
            return sealers
        _lying(srv, "getSealerList", lie)
        p = lm("--rpc", srv.url, "--yes")
        assert p.returncode == 2 and p.stdout == ""
        assert "disagree" in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr
    finally:
        srv.stop()


def test_node_whose_header_hash_disagrees_is_refused():
    srv, c = start_node(crypto="sm")
    try:
        simulate(srv.chain, 1, 0, b"x")

        def lie(block):
            block = dict(block)
            block["hash"] = "0x" + "11" * 32
            return block
        _lying(srv, "getBlockByNumber", lie)
        p = lm("--rpc", srv.url, "--yes")
        assert p.returncode == 2 and "disagree" in p.stderr and "Traceback" not in p.stderr
    finally:
        srv.stop()


def test_header_with_too_few_signatures_is_refused():
    srv, c = start_node(crypto="ecdsa")
    try:
        simulate(srv.chain, 1, 0, b"x")

        def lie(block):
            block = dict(block)
            if block.get("number"):
                block["signatureList"] = block["signatureList"][:1]
            return block
        _lying(srv, "getBlockByNumber", lie)
        p = lm("--rpc", srv.url, "--yes")
        assert p.returncode == 2 and "does not verify" in p.stderr
    finally:
        srv.stop()


def test_chain_settings_from_genesis_config_or_group_info():
    text = "[chain]\nsm_crypto:1\nchainID: chainX\ngroupID: groupY\nnode.0:%s,2\n" % ("ab" * 64)
    got = trustinit.parse_genesis_config(text)
    assert got == {"crypto": "sm", "chain_id": "chainX", "group_id": "groupY",
                   "genesis_sealers": [(b"\xab" * 64, 2)]}

    class Rpc:  # a node whose genesis block has no config text: getGroupInfo answers
        def __call__(self, method, *params):
            if method == "getBlockByNumber":
                return {"extraData": "0x"}
            assert method == "getGroupInfo"
            return {"chainID": "c1", "groupID": "g1", "genesisConfig": {"smCryptoType": False}}
    assert trustinit._chain_settings(Rpc()) == {"chain_id": "c1", "group_id": "g1", "crypto": "ecdsa"}


# -- --genesis FILE and --hash 0x... ------------------------------------------------------------

from lightmeter_host.node.chain import genesis_config_text  # noqa: E402
from lightmeter.chain import headerwrite
from lightmeter.crypto import suite as suite_mod  # noqa: E402


def _genesis_file(tmp_path, chain, sealers, name="genesis.txt"):
    path = tmp_path / name
    path.write_bytes(genesis_config_text(chain.crypto, chain.chain_id, chain.group_id, sealers))
    return path


@pytest.mark.parametrize("crypto", ["ecdsa", "sm"])
def test_genesis_file_gives_the_nodes_genesis_hash_and_set(crypto, tmp_path):
    srv, c = start_node(crypto=crypto)
    try:
        genesis_set = srv.chain.sealer_list()
        simulate(srv.chain, 3, 1, b"g")
        path = _genesis_file(tmp_path, srv.chain, genesis_set)
        p = lm("--genesis", str(path), "--yes")
        assert p.returncode == 0, p.stderr
        obj = json.loads(p.stdout)
        t = trust_mod.from_json(obj)
        assert (t.chain_id, t.group_id, t.crypto) == ("chain0", "group0", crypto)
        assert t.number == 0 and obj["hash"] == c("getBlockHashByNumber", 0)
        assert t.sealers == genesis_set
        assert check.check_header(c("getBlockByNumber", 0), obj)["valid"]
        assert str(path) in p.stderr
        # with --rpc the node's block 0 is cross-checked, and agrees
        p2 = lm("--genesis", str(path), "--rpc", srv.url, "--version", "0x03030000", "--yes")
        assert p2.returncode == 0, p2.stderr
        assert json.loads(p2.stdout) == obj
    finally:
        srv.stop()


def test_modified_genesis_file_gives_another_hash_and_is_refused_by_the_node(tmp_path):
    srv, c = start_node(crypto="ecdsa")
    try:
        genesis_set = srv.chain.sealer_list()
        changed = [(genesis_set[0][0], 2)] + genesis_set[1:]
        path = _genesis_file(tmp_path, srv.chain, changed)
        p = lm("--genesis", str(path), "--yes")
        assert p.returncode == 0, p.stderr
        obj = json.loads(p.stdout)
        assert obj["hash"] != c("getBlockHashByNumber", 0) and obj["sealers"][0]["weight"] == 2
        p = lm("--genesis", str(path), "--rpc", srv.url, "--yes")
        assert p.returncode == 2 and p.stdout == ""
        assert "mismatch" in p.stderr and obj["hash"] in p.stderr and len(p.stderr.splitlines()) == 1
        # another version is another genesis header
        p = lm("--genesis", str(_genesis_file(tmp_path, srv.chain, genesis_set, "g2")), "--version",
               "0x03020000", "--rpc", srv.url, "--yes")
        assert p.returncode == 2 and "mismatch" in p.stderr
    finally:
        srv.stop()


def test_genesis_hash_is_of_the_files_exact_bytes():
    text = genesis_config_text("sm", "chainX", "groupY", [(b"\x01" * 64, 1)])
    info = trustinit.from_genesis(text)
    assert info["hash"] == headerwrite.new(0, extra_data=text, version=0x03030000).hash(suite_mod.get("sm"))
    assert trustinit.from_genesis(text + b"\n")["hash"] != info["hash"]


@pytest.mark.parametrize("edit,needle", [
    (lambda t: t.replace("node.1:", "node.1:zz", 1), "128 hex"),
    (lambda t: t.replace("node.1:", "node.1:abcd", 1), "128 hex"),
    (lambda t: t + "node.9:%s,1\n" % t.split("node.0:")[1][:128], "twice"),
    (lambda t: t.replace(",1\n", ",0\n", 1), "positive"),
    (lambda t: t.replace(",1\n", ",-3\n", 1), "positive"),
    (lambda t: t.replace(",1\n", "\n", 1), "expected"),
    (lambda t: t.replace("chainID: chain0\n", ""), "chainID"),
    (lambda t: t.replace("sm_crypto:0", "sm_crypto:maybe"), "sm_crypto"),
    (lambda t: "\n".join(l for l in t.splitlines() if not l.startswith("node.")) + "\n", "sealer"),
])
def test_malformed_genesis_file_exits_2_with_one_line(tmp_path, edit, needle):
    sealers = [(bytes([i]) * 64, 1) for i in (1, 2, 3)]
    text = genesis_config_text("ecdsa", "chain0", "group0", sealers).decode()
    path = tmp_path / "genesis.txt"
    path.write_text(edit(text))
    p = lm("--genesis", str(path), "--yes")
    assert p.returncode == 2 and p.stdout == "", p.stderr
    assert needle in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr


def test_missing_genesis_file_and_bad_combinations(tmp_path):
    p = lm("--genesis", str(tmp_path / "nope"), "--yes")
    assert p.returncode == 2 and "cannot read" in p.stderr
    for args in (("--yes",), ("--hash", "0x" + "00" * 32), ("--genesis", "x", "--number", "1"),
                 ("--rpc", "http://127.0.0.1:1", "--hash", "0x12")):
        p = lm(*args)
        assert p.returncode == 2 and len(p.stderr.splitlines()) == 1 and "Traceback" not in p.stderr, args


def test_hash_of_block_3_gives_its_number_and_set(node):
    srv, c = node
    block = c("getBlockByNumber", 3)
    p = lm("--rpc", srv.url, "--hash", block["hash"], stdin="y\n")
    assert p.returncode == 0, p.stderr
    assert "Trust this sealer set? [y/N]" in p.stderr
    obj = json.loads(p.stdout)
    assert obj["number"] == 3 and obj["hash"] == block["hash"]
    assert [s["node_id"] for s in obj["sealers"]] == block["sealerList"]
    assert [s["weight"] for s in obj["sealers"]] == block["consensusWeights"]
    assert check.check_header(block, obj)["valid"]
    p = lm("--rpc", srv.url, "--hash", block["hash"], stdin="n\n")
    assert p.returncode == 1 and p.stdout == ""


def test_hash_of_genesis(node):
    srv, c = node
    p = lm("--rpc", srv.url, "--hash", c("getBlockHashByNumber", 0), "--yes")
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert obj["number"] == 0 and check.check_header(c("getBlockByNumber", 0), obj)["valid"]


def test_hash_not_on_the_chain_is_refused(node):
    srv, _ = node
    p = lm("--rpc", srv.url, "--hash", "0x" + "42" * 32, "--yes")
    assert p.returncode == 2 and p.stdout == "" and "no block" in p.stderr
    assert len(p.stderr.splitlines()) == 1


def test_lying_node_cannot_substitute_a_header_for_a_hash():
    srv, c = start_node(crypto="sm")
    try:
        simulate(srv.chain, 4, 1, b"x")
        wanted = c("getBlockHashByNumber", 3)
        other = c("getBlockByNumber", 4)
        table = srv.httpd.methods.table
        honest = table["getBlockByHash"]

        def substitute(block):  # answer block 4, claiming the hash asked for
            block = dict(other)
            block["hash"] = wanted
            return block

        def tamper(block):  # block 3 itself, one field changed, its hash kept
            block = dict(block)
            block["timestamp"] += 1
            return block
        for lie in (substitute, tamper):
            table["getBlockByHash"] = honest
            _lying(srv, "getBlockByHash", lie)
            p = lm("--rpc", srv.url, "--hash", wanted, "--yes")
            assert p.returncode == 2 and p.stdout == "" and "refused" in p.stderr, p.stderr
            assert len(p.stderr.splitlines()) == 1
        # a hash of another block (4) whose header the node tampers with: refused too
        p = lm("--rpc", srv.url, "--hash", other["hash"], "--yes")
        assert p.returncode == 2 and "refused" in p.stderr
        table["getBlockByHash"] = honest
        p = lm("--rpc", srv.url, "--hash", wanted, "--yes")
        assert p.returncode == 0 and json.loads(p.stdout)["number"] == 3, p.stderr
    finally:
        srv.stop()
