"""Every row of docs/fisco-versions.md: the light client reads what each FISCO BCOS 3.x release
prints. `lightmeter node --fisco-version X.Y` (lightmeter_host/node/releases.py) answers in that
release's JSON; the firmware's readers and checks must take each spelling: header versions, the
nonce (decimal before v3.3.0), proofs (from v3.2.0), contractAddress (no 0x in v3.0.x),
transaction and receipt versions 1 and 2 (v3.6.0, v3.7.0) with effectiveGasPrice hashed before
the logs, getSealerList weights (integers in every release). Each release on both crypto suites."""

import pytest

from lightmeter.chain import abi, header as header_mod, receipt as receipt_mod, tx as tx_mod
from lightmeter.chain import merklebuild
from lightmeter.chain import txread
from lightmeter.client import check
from lightmeter.crypto import suite as suite_mod
from lightmeter.errors import Unsupported
from lightmeter_host.chain import txbuild
from lightmeter_host.node import registry, releases, status
from nodeutil import start_node, trust_of

KEY = b"\x42" * 32
SUITES = ("ecdsa", "sm")
ECDSA = suite_mod.get("ecdsa")
# init code deploying a runtime that returns 42
DEPLOY = bytes.fromhex("600a600c600039600a6000f3" + "602a60005260206000f3")


def _send(c, S, version, nonce, to=registry.ADDRESS, data=None):
    extra = {}
    if version >= 1:
        extra = dict(value=b"0", gasPrice=b"0", gasLimit=3000000, maxFeePerGas=b"", maxPriorityFeePerGas=b"")
    if version >= 2:
        extra["extension"] = b"\x01\x02"
    if data is None:
        data = abi.encode_call("lastSeq(address)", [bytes(20)], S.hash)
    tx = txbuild.make("chain0", "group0", c("getBlockNumber") + 100, nonce, to, data, version=version, **extra)
    digest, raw = txbuild.sign(tx, S.name, KEY)
    return digest, c("sendTransaction", "0x" + raw.hex(), False)


@pytest.mark.parametrize("crypto", SUITES)
@pytest.mark.parametrize("name", releases.names())
def test_client_reads_what_each_release_prints(name, crypto):
    rel = releases.get(name)
    S = suite_mod.get(crypto)
    srv, c = start_node(crypto=crypto, release=name)
    try:
        trust = trust_of(c, crypto)
        sent = []
        for v in range(rel.max_tx_version + 1):
            # an even number of digits: the JSON of every release reads two ways (chain/tx.py)
            sent.append(_send(c, S, v, str(1234567890 + v))[0])
        sent.append(_send(c, S, 0, "4321", to=b"", data=DEPLOY)[0])
        for digest in sent:
            txj = c("getTransaction", "0x" + digest.hex(), True)
            rj = c("getTransactionReceipt", "0x" + digest.hex(), True)
            block = c("getBlockByNumber", rj["blockNumber"], False, True)
            hdr = header_mod.from_json(block, S.node_sig_len)
            assert hdr.version == rel.header_version
            assert check.check_header(block, trust)["valid"]
            # nonce spelling (§2): decimal digits before v3.3.0, hex of the bytes after
            t = txread.from_json(txj)
            sent_nonce = t["nonce"] if "nonce_readings" not in t else None
            if rel.decimal_nonce:
                assert txj["nonce"].isdigit() and int(txj["nonce"]) >= 4321
            else:
                assert bytes.fromhex(txj["nonce"]).isdigit()
            assert ("extraData" in txj) == rel.tx_extra_data
            assert ("value" in txj) == (txj["version"] >= 1) and ("extension" in txj) == (txj["version"] >= 2)
            # receipt: contractAddress spelling, effectiveGasPrice (hashed before the logs)
            r = receipt_mod.from_json(rj)
            assert r.hash(S).hex() == rj["hash"][2:]
            assert ("effectiveGasPrice" in rj) == (rj["version"] >= 1) and rj["version"] == txj["version"]
            if rj["contractAddress"]:
                assert rj["contractAddress"].startswith("0x") == rel.contract_0x
                assert ("checksumContractAddress" in rj) == rel.checksum_address
            if rel.proofs:
                out = check.check_tx(txj, block, trust)
                assert out["valid"] and out["tx_hash"] == "0x" + digest.hex(), out
                assert check.check_receipt(rj, block, trust)["valid"]
                assert txj["transactionProof"] == [] and rj["receiptProof"] == []
            else:
                # no proof printed: a clear Unsupported, never [] taken as a proof
                assert "txProof" not in txj and "txReceiptProof" not in rj
                with pytest.raises(Unsupported, match=r"FISCO BCOS < 3\.2\.0"):
                    check.check_tx(txj, block, trust)
                # what a client can still check: the block's listed hashes make its txsRoot,
                # and the listed hash settles the nonce reading
                listed = [bytes.fromhex(h[2:]) for h in block["transactions"]]
                assert merklebuild.root(listed, S.hash) == hdr.txs_root
                assert digest in listed and txread.prove_hash(t, S, digest)
            assert sent_nonce is None or tx_mod.tx_hash(t, S) == digest
        sealers = c("getSealerList")
        assert all(type(e["weight"]) is int for e in sealers)
        assert c("getSystemConfigByKey", "compatibility_version")["value"] == rel.compatibility
        genesis = header_mod.from_json(c("getBlockByNumber", 0, True, True))
        assert genesis.version == (0 if rel.minor < 1 else rel.header_version)
    finally:
        srv.stop()


@pytest.mark.parametrize("name", ["3.0", "3.2", "3.6"])
def test_each_release_refuses_what_its_pool_refuses(name):
    rel = releases.get(name)
    srv, c = start_node(crypto="ecdsa", release=name)
    try:
        if rel.max_tx_version < 2:
            _, rc = _send(c, ECDSA, rel.max_tx_version + 1, "77")
            assert rc["status"] == status.MALFORM and "transaction version" in rc["message"]
        _, rc = _send(c, ECDSA, 0, "n-1")
        assert (rc["status"] == status.MALFORM) == rel.decimal_nonce
        if rel.decimal_nonce:
            _, rc = _send(c, ECDSA, 0, "0042")
            assert rc["status"] == status.MALFORM and "leading zeros" in rc["message"]
    finally:
        srv.stop()


def test_release_names():
    assert releases.names()[0] == "3.0" and releases.names()[-1] == "3.16"
    assert releases.get(None).name == "3.16" and releases.get(None).header_version == 0x03030000
    assert releases.get("3.2").header_version == 0x03020000
    for bad in ("3.17", "2.9", "3", "3.x", "4.0"):
        with pytest.raises(ValueError):
            releases.get(bad)


def test_sealer_list_weight_is_an_integer_termweight_ignored():
    # weight is a uint64 printed as a JSON number by every release; a string "1" (seen in a Java
    # SDK test) is not a node's output and is refused; termWeight (v3.12.0+) is not read.
    from lightmeter_host.lightclient import trustinit

    node = "ab" * 64
    got = trustinit._sealer_list(lambda m: [{"nodeID": node, "weight": 2, "termWeight": 9}])
    assert got == [(bytes.fromhex(node), 2)]
    with pytest.raises(trustinit.TrustInitError, match="weight"):
        trustinit._sealer_list(lambda m: [{"nodeID": node, "weight": "1"}])
