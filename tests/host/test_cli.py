"""The `lightmeter` command as an engineer uses it: real processes, real files, exit codes."""

import json
import subprocess
import sys

import pytest

from chainmaker import sealers, signed_header, trust_json
from lightmeter.chain import tx as txm
from lightmeter.chain import merklebuild
from lightmeter.chain import txread
from lightmeter.crypto import suite
from support import load_vector
from lightmeter_host.paths import PROJECT_ROOT

ROOT = str(PROJECT_ROOT)


def lm(*args, stdin=None):
    p = subprocess.run([sys.executable, "-m", "lightmeter_host.cli", *args], capture_output=True,
                       text=True, cwd=ROOT, input=stdin, timeout=300)
    return p


def write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return str(p)


@pytest.fixture
def files(tmp_path):
    block = load_vector("fisco-doc-sm-block2.json")
    trust = {"chain_id": "chain0", "group_id": "group0", "crypto": "sm",
             "sealers": [{"node_id": n, "weight": 1} for n in block["result"]["sealerList"]]}
    return {"block": write(tmp_path, "block.json", block), "trust": write(tmp_path, "trust.json", trust),
            "receipt": write(tmp_path, "receipt.json", load_vector("fisco-doc-sm-receipt2.json")),
            "dir": tmp_path, "block_obj": block, "trust_obj": trust}


def test_verify_header_valid(files):
    p = lm("verify", "header", files["block"], "--trust", files["trust"])
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out == {"valid": True, "number": 2,
                   "hash": "0x2fbafbf71395bb07d1d6e142a06fa3cd9436aee3e91b5b9e6ffc5c47133c3738",
                   "signers": [0, 1, 2], "weight": 3, "quorum": 3}


def test_verify_header_result_only_input(files):
    path = write(files["dir"], "result.json", files["block_obj"]["result"])
    assert lm("verify", "header", path, "--trust", files["trust"]).returncode == 0


def test_verify_header_invalid_exits_1(files):
    b = files["block_obj"]
    b["result"]["signatureList"].pop()
    p = lm("verify", "header", write(files["dir"], "b.json", b), "--trust", files["trust"])
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert out["valid"] is False and "quorum" in out["reason"]


def test_malformed_header_exits_2_with_one_line(files):
    b = files["block_obj"]
    b["result"]["parentInfo"].append(b["result"]["parentInfo"][0])
    p = lm("verify", "header", write(files["dir"], "b.json", b), "--trust", files["trust"])
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
    assert "parent" in p.stderr
    assert json.loads(p.stdout)["valid"] is False


@pytest.mark.parametrize("content", ["{not json", ""])
def test_unreadable_inputs_exit_2(files, content):
    p = lm("verify", "header", write(files["dir"], "x.json", content), "--trust", files["trust"])
    assert p.returncode == 2 and "not JSON" in p.stderr and "Traceback" not in p.stderr
    p = lm("verify", "header", str(files["dir"] / "missing.json"), "--trust", files["trust"])
    assert p.returncode == 2 and "cannot read" in p.stderr


def test_usage_errors_exit_2():
    assert lm("verify", "header").returncode == 2
    assert lm("frobnicate").returncode == 2
    p = lm("--help")
    assert p.returncode == 0 and "verify" in p.stdout and "Exit status" in p.stdout


def test_verify_receipt(files):
    p = lm("verify", "receipt", files["receipt"], "--header", files["block"], "--trust", files["trust"])
    assert p.returncode == 0, p.stdout
    out = json.loads(p.stdout)
    assert out["receipt_hash"] == "0xf18d1984c7745a826e4b8d608b823534f1e44b273f75972e16cf2ac3ff313e14"


def _built_tx_files(tmp_path, name):
    s = suite.get(name)
    t = txm.defaults()
    t.update(chainID=b"chain0", groupID=b"group0", blockLimit=10, nonce=b"42", to=b"", input=b"\x60")
    t["signature"] = s.sign_tx(b"\x07" * 32, txm.tx_hash(t, s))
    leaf = txm.tx_hash(t, s)
    nodes = sealers(name, 4)
    js, _ = signed_header(name, nodes, number=9, txs_root=merklebuild.root([leaf, s.hash(b"x")], s.hash))
    txj = txread.to_json(t, s)
    txj["txProof"] = [x.hex() for x in merklebuild.proof([leaf, s.hash(b"x")], 0, s.hash)]
    txj["transactionProof"] = []
    return (write(tmp_path, "tx.json", {"jsonrpc": "2.0", "id": 1, "result": txj}),
            write(tmp_path, "hdr.json", js), write(tmp_path, "t.json", trust_json(name, nodes)),
            "0x" + s.address(s.public_key(b"\x07" * 32)).hex())


@pytest.mark.parametrize("name", ["ecdsa", "sm"])
def test_verify_tx_both_suites_both_runtimes(tmp_path, name):
    txf, hdr, tr, addr = _built_tx_files(tmp_path, name)
    outs = []
    for runtime in ("python", "micropython"):
        p = lm("verify", "tx", txf, "--header", hdr, "--trust", tr, "--runtime", runtime)
        assert p.returncode == 0, p.stdout + p.stderr
        outs.append(json.loads(p.stdout))
    assert outs[0] == outs[1]
    assert outs[0]["sender"] == addr and outs[0]["index"] == 0


HOSTILE = {
    "duplicate signer": lambda b: b["signatureList"].__setitem__(2, dict(b["signatureList"][0])),
    "unknown index": lambda b: b["signatureList"][2].__setitem__("sealerIndex", 7),
    "tampered field": lambda b: b.__setitem__("timestamp", b["timestamp"] + 1),
    "two parents": lambda b: b["parentInfo"].append(dict(b["parentInfo"][0])),
    "short node id": lambda b: b["sealerList"].__setitem__(0, b["sealerList"][0][:-2]),
    "long signature": lambda b: b["signatureList"][0].__setitem__("signature", b["signatureList"][0]["signature"] + "00"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_runtimes_agree_on_hostile_headers(files, case):
    b = files["block_obj"]
    HOSTILE[case](b["result"])
    path = write(files["dir"], "b.json", b)
    res = []
    for runtime in ("python", "micropython"):
        p = lm("verify", "header", path, "--trust", files["trust"], "--runtime", runtime)
        res.append((p.returncode, p.stdout, p.stderr))
    assert res[0] == res[1]
    assert res[0][0] in (1, 2)


def _doc_tx_hex():
    return load_vector("fisco-doc-sendTransaction.json")["request_params"][2]


def test_decode_real_transaction():
    p = lm("decode", "tx", _doc_tx_hex(), "--crypto", "sm")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    f = load_vector("fisco-doc-sendTransaction.json")["fields"]
    assert out["hash"] == f["dataHash"] and out["dataHash_matches"] is True
    assert out["signature_valid"] is True and len(out["sender"]) == 42
    for k in ("chainID", "groupID", "blockLimit", "nonce", "to", "abi", "version"):
        assert out[k] == f[k]


def test_decode_from_file_and_bad_signature(tmp_path):
    raw = bytes.fromhex(_doc_tx_hex()[2:])
    path = tmp_path / "tx.bin"
    path.write_bytes(raw)
    assert lm("decode", "tx", "@" + str(path), "--crypto", "sm").returncode == 0
    # the wrong suite: an SM2 signature is no secp256k1 signature
    p = lm("decode", "tx", _doc_tx_hex(), "--crypto", "ecdsa")
    assert p.returncode == 2 or (p.returncode == 1 and json.loads(p.stdout)["signature_valid"] is False)
    # one flipped byte inside the nonce: decodes, but the signature no longer matches
    i = raw.index(b"6232783720")
    bad = raw[:i] + b"7" + raw[i + 1:]
    p = lm("decode", "tx", bad.hex(), "--crypto", "sm")
    assert p.returncode == 1 and json.loads(p.stdout)["signature_valid"] is False


@pytest.mark.parametrize("arg", ["0x123", "zz", "0x1a1c26", "0x" + "ff" * 8])
def test_decode_malformed_exits_2(arg):
    p = lm("decode", "tx", arg, "--crypto", "sm")
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_missing_micropython_runtime_is_one_clear_line(files, tmp_path):
    # A checkout without node_modules: the CLI names the fix instead of a traceback.
    code = ("import sys; from lightmeter_host import cli; from lightmeter_host.runtimes import micropython; "
            "micropython.NODE_MODULES = micropython.Path(sys.argv[1]); "
            "sys.exit(cli.main(sys.argv[2:]))")
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "none"), "verify", "header",
                        files["block"], "--trust", files["trust"], "--runtime", "micropython"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "make setup" in p.stderr and len(p.stderr.strip().splitlines()) == 1
