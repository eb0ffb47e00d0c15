"""`lightmeter node`: a FISCO BCOS 3.x-compatible chain, checked by our light client
and against the documentation's real data and shapes."""

import json
import os
import subprocess
import sys

import pytest

from lightmeter.chain import abi, abidecode, header
from lightmeter.client import check
from lightmeter.crypto import suite
from lightmeter_host.chain import txbuild, txdecode, txcodec
from lightmeter_host.node import consensus, registry
from lightmeter_host.node.chain import Chain
from nodeutil import start_node, trust_of
from support import load_vector
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)
DOC = load_vector("fisco-doc-sendTransaction.json")
KEY = b"\x42" * 32


@pytest.fixture
def sm_node():
    srv, c = start_node(crypto="sm")
    yield srv, c
    srv.stop()


@pytest.fixture
def node():
    srv, c = start_node(crypto="ecdsa")
    yield srv, c
    srv.stop()


def harmless_call(crypto):
    """Calldata that succeeds: a view of MeterRegistry sent as a transaction."""
    return abi.encode_call("lastSeq(address)", [bytes(20)], suite.get(crypto).hash)


def send(c, crypto, priv=KEY, proof=False, **kw):
    kw.setdefault("block_limit", c("getBlockNumber") + 100)
    kw.setdefault("nonce", os.urandom(8).hex())
    kw.setdefault("to", registry.ADDRESS)
    kw.setdefault("data", harmless_call(crypto))
    tx = txbuild.make("chain0", "group0", **kw)
    digest, raw = txbuild.sign(tx, crypto, priv)
    return digest, c("sendTransaction", "0x" + raw.hex(), proof)


def test_documentation_transaction_is_accepted_and_verifies(sm_node, tmp_path):
    srv, c = sm_node
    rc = c("sendTransaction", DOC["request_params"][2], True)
    assert rc["status"] == 0 and rc["blockNumber"] == 1
    # "from" is the signer of the documented signature
    tx = txdecode.to_firmware(txcodec.decode_transaction(bytes.fromhex(DOC["request_params"][2][2:])))
    from lightmeter.chain import txread
    assert rc["from"] == "0x" + txread.sender(tx, suite.get("sm")).hex()
    assert rc["transactionHash"] == DOC["fields"]["dataHash"]
    # the deployed HelloWorld answers get() (SM3 selector 0x299f7f9d) with its constructor's value
    out = c("call", rc["contractAddress"], "0x299f7f9d")
    assert out["status"] == 0 and abidecode.decode(["string"], bytes.fromhex(out["output"][2:])) == ["Hello, World!"]
    # light client: header, receipt and transaction all verify, in process and by the CLI
    trust = trust_of(c, "sm")
    block = c("getBlockByNumber", 1, True, True)
    receipt = c("getTransactionReceipt", rc["transactionHash"], True)
    txj = c("getTransaction", rc["transactionHash"], True)
    assert check.check_header(block, trust)["valid"]
    assert check.check_receipt(receipt, block, trust)["valid"]
    res = check.check_tx(txj, block, trust)
    assert res["valid"] and res["sender"] == rc["from"]
    files = {}
    for name, obj in (("trust", trust), ("block", block), ("receipt", receipt), ("tx", txj)):
        files[name] = str(tmp_path / (name + ".json"))
        with open(files[name], "w") as f:
            json.dump(obj, f)
    for what, item in (("receipt", files["receipt"]), ("tx", files["tx"])):
        p = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", "verify", what, item, "--header",
                            files["block"], "--trust", files["trust"]], capture_output=True, text=True, cwd=ROOT)
        assert p.returncode == 0, p.stdout + p.stderr


def test_blocks_only_when_transactions_are_pending(node):
    srv, c = node
    assert c("getBlockNumber") == 0
    assert srv.chain.seal() is None
    assert send(c, "ecdsa")[1]["status"] == 0
    assert c("getBlockNumber") == 1


def test_headers_carry_a_quorum_of_real_signatures(node):
    srv, c = node
    for _ in range(3):
        send(c, "ecdsa")
    trust = trust_of(c, "ecdsa")
    signers = set()
    for n in range(1, c("getBlockNumber") + 1):
        res = check.check_header(c("getBlockByNumber", n), trust)
        assert res["valid"] and res["weight"] == 3, res
        signers.update(res["signers"])
    assert signers == {0, 1, 2, 3}  # the signing quorum rotates


@pytest.mark.parametrize("mode,valid,reason", [("all", True, None), ("few", False, "quorum not reached"),
                                                ("duplicate", False, "signs twice")])
def test_sign_modes(mode, valid, reason):
    srv, c = start_node(crypto="ecdsa", sign_mode=mode)
    try:
        send(c, "ecdsa")
        res = check.check_header(c("getBlockByNumber", 1), trust_of(c, "ecdsa"))
        assert res["valid"] is valid and (reason is None or reason in res["reason"])
        if mode == "all":
            assert res["signers"] == [0, 1, 2, 3]
    finally:
        srv.stop()


def test_meter_registry_records_and_emits(node):
    srv, c = node
    h = suite.get("ecdsa").hash
    data = abi.encode_call("record(uint64,bytes)", [1, b"reading-1"], h)
    digest, rc = send(c, "ecdsa", to=registry.ADDRESS, data=data, proof=True)
    assert rc["status"] == 0 and len(rc["logEntries"]) == 1
    log = rc["logEntries"][0]
    assert log["address"] == registry.ADDRESS.hex()
    assert log["topics"][0] == "0x" + h(b"Reading(address,uint64,bytes)").hex()
    # a reused sequence number reverts, with the reason
    _, again = send(c, "ecdsa", to=registry.ADDRESS, data=data)
    assert again["status"] == 16 and again["message"]
    device = suite.get("ecdsa").address(suite.get("ecdsa").public_key(KEY))
    out = c("call", "0x" + registry.ADDRESS.hex(), "0x" + abi.encode_call("lastSeq(address)", [device], h).hex())
    assert abidecode.decode(["uint64"], bytes.fromhex(out["output"][2:])) == [1]


def _error(c, params, method="sendTransaction"):
    out = c.request(method, params)
    assert "error" in out, out
    return out["error"]


def test_bad_requests_get_real_errors_and_change_nothing(node):
    srv, c = node
    send(c, "ecdsa")
    before = (c("getBlockNumber"), c("getTotalTransactionCount"))
    assert _error(c, ["group0", "", "0x123", False])["code"] == -32602  # odd-length hex
    assert _error(c, ["group0", "", "0x" + "ff" * 20, False])["code"] == -32602  # garbage Tars
    assert _error(c, ["group0", ""], method="noSuchMethod")["code"] == -32601
    assert _error(c, ["group0", "", 1, 2, 3], method="getBlockNumber")["code"] == -32602
    assert _error(c, ["group9", ""], method="getBlockNumber")["code"] == -32005
    wrong_chain = txbuild.make("chain9", "group0", 50, "n1")
    _, raw = txbuild.sign(wrong_chain, "ecdsa", KEY)
    err = _error(c, ["group0", "", raw.hex(), False])
    assert err["code"] == -32602 and "Chain ID mismatch" in err["message"]
    assert c.raw(b"{not json")["error"]["code"] == -32700
    assert c.raw(b'{"jsonrpc":"2.0","method":"getBlockNumber","params":{},"id":1}')["error"]["code"] == -32600
    # refused by the pool: a receipt carrying the txpool status
    _, rc = send(c, "ecdsa", block_limit=0)
    assert rc["status"] == 10001  # BlockLimitCheckFail
    _, rc = send(c, "ecdsa", block_limit=c("getBlockNumber") + 1001)
    assert rc["status"] == 10001
    tx = txbuild.make("chain0", "group0", 50, "bad-signature")
    txbuild.sign(tx, "ecdsa", KEY)
    tx["signature"] = tx["signature"][:64] + b"\x05"  # no such recovery id: nothing recovers
    assert c("sendTransaction", txbuild.encode(tx).hex(), False)["status"] == 10008
    # (a changed field with an intact secp256k1 signature just recovers another sender)
    tx = txbuild.make("chain0", "group0", 50, "n-once", registry.ADDRESS, harmless_call("ecdsa"))
    _, raw = txbuild.sign(tx, "ecdsa", KEY)
    assert c("sendTransaction", raw.hex(), False)["status"] == 0
    again = txbuild.make("chain0", "group0", 51, "n-once", registry.ADDRESS, harmless_call("ecdsa"))
    _, raw2 = txbuild.sign(again, "ecdsa", KEY)
    assert c("sendTransaction", raw2.hex(), False)["status"] == 10000  # NonceCheckFail
    assert c("sendTransaction", raw.hex(), False)["status"] == 10005  # TxAlreadyInChain
    after = (c("getBlockNumber"), c("getTotalTransactionCount"))
    assert after[0] == before[0] + 1 and after[1]["transactionCount"] == before[1]["transactionCount"] + 1


def test_sealer_set_changes_take_effect_from_the_next_block(node):
    srv, c = node
    h = suite.get("ecdsa").hash
    new = sorted(srv.chain.keys)[-1]
    assert new not in srv.chain.consensus
    data = abi.encode_call("addSealer(string,uint256)", [new.hex(), 2], h)
    _, rc = send(c, "ecdsa", to=consensus.ADDRESS, data=data)
    assert rc["status"] == 0
    n = rc["blockNumber"]
    assert len(c("getBlockByNumber", n)["sealerList"]) == 4
    send(c, "ecdsa")
    nxt = c("getBlockByNumber", n + 1)
    assert len(nxt["sealerList"]) == 5 and "0x" + new.hex() in nxt["sealerList"]
    trust = trust_of(c, "ecdsa")  # the new set: weights 1,1,1,1,2 -> total 6, quorum 5
    assert check.check_header(nxt, trust)["valid"]
    data = abi.encode_call("setWeight(string,uint256)", [new.hex(), 0], h)
    assert send(c, "ecdsa", to=consensus.ADDRESS, data=data)[1]["status"] == 15
    for s in c("getSealerList")[:-1]:
        send(c, "ecdsa", to=consensus.ADDRESS, data=abi.encode_call("remove(string)", [s["nodeID"]], h))
    _, last = send(c, "ecdsa", to=consensus.ADDRESS,
                   data=abi.encode_call("remove(string)", [c("getSealerList")[0]["nodeID"]], h))
    assert last["status"] == 15  # the last sealer stays


def test_restart_resumes_with_the_same_hashes(tmp_path):
    srv, c = start_node(crypto="sm", data_dir=str(tmp_path))
    for _ in range(3):
        send(c, "sm")
    hashes = [c("getBlockHashByNumber", n) for n in range(4)]
    srv.stop()
    srv, c = start_node(crypto="ecdsa", data_dir=str(tmp_path))  # stored settings win
    try:
        assert srv.chain.crypto == "sm"
        assert [c("getBlockHashByNumber", n) for n in range(4)] == hashes
        send(c, "sm")
        assert c("getBlockNumber") == 4
    finally:
        srv.stop()


def test_killed_node_loses_no_committed_block(tmp_path):
    data = str(tmp_path / "chain")
    proc = subprocess.Popen([sys.executable, "-m", "lightmeter_host.cli", "node", "--data", data,
                             "--listen", "127.0.0.1:0", "--seed", "kill-test"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        url = None
        for line in proc.stdout:
            if "JSON-RPC" in line:
                url = line.split()[-1]
                break
        from nodeutil import Client
        c = Client(url)
        sent = [send(c, "ecdsa")[1]["blockNumber"] for _ in range(3)]
    finally:
        proc.kill()
        proc.wait()
    chain = Chain(data_dir=data)
    assert chain.height() == max(sent) == 3
    chain.store.close()


def test_response_shapes_match_the_documentation(sm_node):
    srv, c = sm_node
    rc = c("sendTransaction", DOC["request_params"][2], True)
    doc_block = load_vector("fisco-doc-sm-block2.json")["result"]
    ours = c("getBlockByNumber", 1, True, True)
    assert set(ours) == set(doc_block)
    for k, v in doc_block.items():
        assert type(ours[k]) is type(v), k
    doc_rc = load_vector("fisco-doc-sm-receipt2.json")["result"]
    got = c("getTransactionReceipt", rc["transactionHash"], True)
    assert set(got) == set(doc_rc)
    for k, v in doc_rc.items():
        assert type(got[k]) is type(v), k
    assert all(len(x) == 64 for x in got["txReceiptProof"])
    assert set(c("getSealerList")[0]) == {"nodeID", "weight"}
    assert set(c("getTotalTransactionCount")) == {"blockNumber", "failedTransactionCount", "transactionCount"}
    assert c("getSystemConfigByKey", "tx_count_limit") == {"blockNumber": 0, "value": "1000"}
    sync = json.loads(c("getSyncStatus"))
    assert sync["genesisHash"] == c("getBlockHashByNumber", 0)[2:] and sync["blockNumber"] == 1
    cons = json.loads(c("getConsensusStatus"))
    assert cons["minRequiredQuorum"] == 3 and cons["maxFaultyQuorum"] == 1
    assert isinstance(c("getPbftView"), int)
    assert c("getGroupList")["groupList"] == ["group0"]
    # the genesis block hashes with the genesis quirk and carries the chain's config
    g = c("getBlockByNumber", 0, False, False)
    assert g["transactions"] == [] and header.from_json(g).hash(suite.get("sm")).hex() == g["hash"][2:]
    assert b"sm_crypto:1" in bytes.fromhex(g["extraData"][2:])
    # doc example: "params": [] is accepted
    assert c.request("getBlockNumber", [])["result"] == 1


def test_contract_compiled_here_is_deployed_by_transaction_and_called(node):
    from lightmeter_host.chain import contracts

    srv, c = node
    h = suite.get("ecdsa").hash
    _, rc = send(c, "ecdsa", to=b"", data=contracts.bytecode("MeterRegistry", "ecdsa"))
    assert rc["status"] == 0 and rc["contractAddress"]
    addr = bytes.fromhex(rc["contractAddress"][2:])
    assert c("getCode", rc["contractAddress"]) == "0x" + contracts.deployed_bytecode("MeterRegistry", "ecdsa").hex()
    _, rec = send(c, "ecdsa", to=addr, data=abi.encode_call("record(uint64,bytes)", [7, b"kWh"], h))
    assert rec["status"] == 0 and rec["logEntries"][0]["address"] == addr.hex()
    device = suite.get("ecdsa").address(suite.get("ecdsa").public_key(KEY))
    out = c("call", rc["contractAddress"], abi.encode_call("readingOf(address,uint64)", [device, 7], h).hex())
    assert set(out) == {"blockNumber", "output", "status"}  # the documented call shape
    assert abidecode.decode(["bytes"], bytes.fromhex(out["output"][2:])) == [b"kWh"]


def test_a_client_gone_mid_answer_prints_no_traceback(capfd):
    """A relay or collector killed while the node writes its answer is normal operation: the
    node says nothing; any other failure of a request is one line, never a traceback."""
    srv, _ = start_node(crypto="ecdsa")
    try:
        httpd = srv.httpd
        for exc, expect in ((BrokenPipeError(32, "Broken pipe"), ""),
                            (ConnectionResetError(104, "reset"), ""),
                            (ValueError("bad"), "node: request from 127.0.0.1:5 failed: ValueError: bad\n")):
            try:
                raise exc
            except Exception:
                httpd.handle_error(None, ("127.0.0.1", 5))
            err = capfd.readouterr().err
            assert err == expect
    finally:
        srv.stop()
