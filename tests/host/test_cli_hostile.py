"""Every verb `lightmeter --help` lists, given hostile input (garbage bytes, truncated JSON, a
50 MB document, JSON of the wrong types, numbers JSON does not have): one line on stderr, exit
status 2, never a traceback. And `--runtime micropython` gives `--runtime python`'s verdict
on such input (issue #12)."""

import concurrent.futures
import json
import os
import re
import subprocess
import sys

import pytest

from support import load_vector

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HUGE = 50 * 1024 * 1024


def lm(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "lightmeter_host.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, stdin=subprocess.DEVNULL)


def _block():
    return load_vector("fisco-doc-sm-block2.json")


def _trust():
    return {"chain_id": "chain0", "group_id": "group0", "crypto": "sm",
            "sealers": [{"node_id": n, "weight": 1} for n in _block()["result"]["sealerList"]]}


WRONG_TYPES = {"result": {"number": "two", "sealerList": 5, "signatureList": {"a": 1}, "hash": 7},
               "chain_id": 5, "group_id": [], "crypto": None, "sealers": "all", "number": -1.5,
               "version": "x", "devices": 7, "meter_id": {}, "readings": "many"}


def hostile_inputs(folder):
    """{kind: path} of hostile files."""
    block = json.dumps(_block())
    big = _block()
    big["result"]["pad"] = "x" * HUGE  # 50 MB, and no block number
    del big["result"]["number"]
    nan = _block()
    nan["result"]["number"] = float("nan")
    contents = {"garbage": b"\x00\xff\xfe garbage \x80\x81" * 64,
                "truncated": block[:len(block) // 2].encode(),
                "huge": json.dumps(big).encode(),
                "wrong-types": json.dumps(WRONG_TYPES).encode(),
                "a-list": b"[1, 2, 3]",
                "nan": json.dumps(nan).encode(),
                "infinity": json.dumps(dict(WRONG_TYPES, number=float("inf"), chain_id=float("-inf"))).encode()}
    paths = {}
    for kind, data in contents.items():
        p = os.path.join(folder, kind + ".json")
        with open(p, "wb") as f:
            f.write(data)
        paths[kind] = p
    return paths


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    good = {"block": str(d / "block.json"), "trust": str(d / "trust.json"), "dir": str(d)}
    with open(good["block"], "w") as f:
        json.dump(_block(), f)
    with open(good["trust"], "w") as f:
        json.dump(_trust(), f)
    with open(str(d / "fleet.json"), "w") as f:
        json.dump({"version": 1, "devices": []}, f)
    good["fleet"] = str(d / "fleet.json")
    return hostile_inputs(str(d)), good


def _root_with_config(folder, path):
    """A virtual board's flash whose config.json is the hostile file."""
    root = os.path.join(folder, "root-" + os.path.basename(path))
    os.makedirs(root, exist_ok=True)
    with open(path, "rb") as src, open(os.path.join(root, "config.json"), "wb") as dst:
        dst.write(src.read())
    return root


# verb -> argv given the hostile file F and the good files G (every verb of `lightmeter --help`)
VERBS = {
    "verify-header": lambda F, G: ["verify", "header", F, "--trust", G["trust"]],
    "verify-header-micropython": lambda F, G: ["verify", "header", F, "--trust", G["trust"], "--runtime",
                                               "micropython"],
    "verify-trust": lambda F, G: ["verify", "header", G["block"], "--trust", F],
    "verify-receipt": lambda F, G: ["verify", "receipt", F, "--header", G["block"], "--trust", G["trust"]],
    "verify-tx-micropython": lambda F, G: ["verify", "tx", F, "--header", G["block"], "--trust", G["trust"],
                                           "--runtime", "micropython"],
    "trust": lambda F, G: ["trust", "init", "--genesis", F, "--yes"],
    "decode": lambda F, G: ["decode", "tx", "@" + F, "--crypto", "sm"],
    "bench": lambda F, G: ["bench", "--quick", "--sync", "--bogus", F],
    "node": lambda F, G: ["node", "--data", F, "--listen", "127.0.0.1:0"],
    "relay": lambda F, G: ["relay", "--port", F, "--rpc", "http://127.0.0.1:1"],
    "board": lambda F, G: ["board", "virtual", "--root", _root_with_config(G["dir"], F)],
    "sync": lambda F, G: ["sync", "--rpc", "http://127.0.0.1:1", "--trust", F],
    "demo": lambda F, G: ["demo", "--data", F, "--readings", "1"],
    "fleet": lambda F, G: ["fleet", "simulate", "--meters", F],
    "boards": lambda F, G: ["boards", "--json", F],
    "flash": lambda F, G: ["flash", "--board", "esp32", "--port", F, "--firmware", F, "--dry-run"],
    "provision": lambda F, G: ["provision", "--trust", F, "--meter-id", "m1", "--port", F],
    "provision-fleet": lambda F, G: ["provision", "--trust", G["trust"], "--meter-id", "m1", "--port", F,
                                     "--fleet", F],
    "collect": lambda F, G: ["collect", "--rpc", "http://127.0.0.1:1", "--trust", F, "--fleet", G["fleet"]],
    "collect-fleet": lambda F, G: ["collect", "--rpc", "http://127.0.0.1:1", "--trust", G["trust"], "--fleet", F],
    "collector-verify": lambda F, G: ["collector", "verify", "--db", "sqlite://" + F],
    "collector-export": lambda F, G: ["collector", "export", "--db", "sqlite://" + F, "--format", "csv"],
    "collector-serve": lambda F, G: ["collector", "serve", "--db", "sqlite://" + F, "--listen", "127.0.0.1:0"],
}


def test_every_listed_verb_is_covered():
    listed = re.findall(r"^    (\w+)", lm("--help").stdout, re.M)
    assert listed and set(listed) <= {v.split("-")[0] for v in VERBS}


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_hostile_input_gives_one_line_and_exit_2(hostile, verb):
    files, good = hostile
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        runs = {kind: pool.submit(lm, *VERBS[verb](path, good)) for kind, path in files.items()}
    bad = []
    for kind, fut in runs.items():
        r = fut.result()
        lines = r.stderr.strip().splitlines()
        if r.returncode != 2 or len(lines) != 1 or "Traceback" in r.stderr:
            bad.append("%s: exit %s, stderr %r" % (kind, r.returncode, r.stderr[-600:]))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("kind", ["nan", "infinity", "huge", "wrong-types", "a-list", "truncated"])
def test_micropython_gives_the_python_verdict(hostile, kind):
    files, good = hostile
    py = lm("verify", "header", files[kind], "--trust", good["trust"])
    mp = lm("verify", "header", files[kind], "--trust", good["trust"], "--runtime", "micropython")
    assert py.returncode == 2
    assert (py.stdout, py.stderr, py.returncode) == (mp.stdout, mp.stderr, mp.returncode)


def test_a_huge_header_is_refused_before_micropython_reads_it(tmp_path, hostile):
    """A 50 MB header the checks would accept: MicroPython would take minutes to read it (it
    used to time out after 300 s with a traceback); it is refused at once with the limit."""
    files, good = hostile
    big = _block()
    big["result"]["pad"] = "x" * HUGE
    path = tmp_path / "big.json"
    path.write_text(json.dumps(big))
    mp = lm("verify", "header", str(path), "--trust", good["trust"], "--runtime", "micropython", timeout=60)
    assert mp.returncode == 2 and len(mp.stderr.strip().splitlines()) == 1, mp.stderr
    assert "--runtime micropython takes at most 1048576" in mp.stderr
