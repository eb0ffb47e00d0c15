"""`lightmeter trust init`: a TRUST.json taken from a node, checked, confirmed by an operator."""

import json
import os
import subprocess
import sys

import pytest

from lightmeter import check, trust as trust_mod
from host_tools import trustinit
from host_tools.node.chain import Chain
from host_tools.node.server import NodeServer
from host_tools.node.simulate import simulate
from nodeutil import Client, start_node

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def lm(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "host_tools.cli", "trust", "init", *args],
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
    table = srv.httpd.methods.table
    count, optional, fn = table[method]
    table[method] = (count, optional, lambda *a: lie(fn(*a)))


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
