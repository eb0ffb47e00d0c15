"""`lightmeter bench`: speed and memory of our verification against peers, in one run.

Every figure is measured in the same process run as the peer it is compared
with, so ratios hold whatever the machine. CPython figures use our pure
firmware code (no native backend). MicroPython figures run the firmware inside
the WebAssembly port and time with time.ticks_us there; node start-up and
module import are excluded.
"""

import hashlib
import json
import os
import sys
import time

from lightmeter.chain import headerwrite
from lightmeter.chain.meter_registry import RECORD
from lightmeter.crypto import keccak, secp256k1, sm2, sm3, suite as suite_mod
from lightmeter.client import trust as trust_mod

VECTORS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "vectors")


def per_call_ms(fn, n, repeat=3):
    """Best-of-repeat mean time of fn() in milliseconds."""
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = (time.perf_counter() - t0) * 1000 / n
        best = dt if best is None or dt < best else best
    return best


def _keys(label, count):
    return [hashlib.sha256(label + bytes([i])).digest() for i in range(count)]


def built_header(suite_name, sealers, signers):
    """(result JSON, TRUST.json) of a header with `sealers` nodes, the first `signers` signing."""
    s = suite_mod.get(suite_name)
    nodes = sorted((s.public_key(k), k) for k in _keys(b"bench-sealer", sealers))
    h = headerwrite.new(1000, b"\x01" * 32, [n for n, _ in nodes], txs_root=b"\x02" * 32,
                   receipts_root=b"\x03" * 32, state_root=b"\x04" * 32, gas_used=b"21000",
                   timestamp=1700000000000, sealer=1)
    digest = h.hash(s)
    h.signatures = [(i, s.sign_node(nodes[i][1], digest)) for i in range(signers)]
    trust = {"chain_id": "chain0", "group_id": "group0", "crypto": suite_name,
             "sealers": [{"node_id": n.hex(), "weight": 1} for n, _ in nodes]}
    return headerwrite.to_json(h, digest), trust


def cpython_crypto(quick):
    """Our pure secp256k1/SM2/hashes against python-ecdsa, coincurve, gmssl, pycryptodome, OpenSSL."""
    import coincurve
    import ecdsa
    from Crypto.Hash import keccak as pc_keccak
    from gmssl import sm2 as gm_sm2, sm3 as gm_sm3

    n = 30 if quick else 200
    out = {}
    priv = hashlib.sha256(b"bench-key").digest()
    digest = hashlib.sha256(b"bench-message").digest()

    pub = secp256k1.public_key(priv)
    sig = secp256k1.sign(priv, digest)
    assert secp256k1.verify(pub, digest, sig)
    out["secp256k1_verify_ms"] = per_call_ms(lambda: secp256k1.verify(pub, digest, sig), n)
    out["secp256k1_recover_ms"] = per_call_ms(lambda: secp256k1.recover(digest, sig), n)
    out["secp256k1_sign_ms"] = per_call_ms(lambda: secp256k1.sign(priv, digest), n)
    vk = ecdsa.VerifyingKey.from_string(pub, curve=ecdsa.SECP256k1)

    assert vk.verify_digest(sig[:64], digest, sigdecode=ecdsa.util.sigdecode_string)
    out["secp256k1_verify_ms_python_ecdsa"] = per_call_ms(
        lambda: vk.verify_digest(sig[:64], digest, sigdecode=ecdsa.util.sigdecode_string), n)
    from coincurve.ecdsa import cdata_to_der, deserialize_compact
    cpub = coincurve.PublicKey(b"\x04" + pub)
    der = cdata_to_der(deserialize_compact(sig[:64]))
    assert cpub.verify(der, digest, hasher=None)
    out["secp256k1_verify_ms_coincurve"] = per_call_ms(lambda: cpub.verify(der, digest, hasher=None), n * 10)

    spub = sm2.public_key(priv)
    za = sm2.za(spub)
    ssig = sm2.sign(priv, digest)
    e = sm3.sm3(za + digest)
    assert sm2.verify_digest(spub, e, ssig) and sm2.verify(spub, digest, ssig, za=za)
    # Like for like: both take e = SM3(Z_A || M) and check r, s.
    out["sm2_verify_ms"] = per_call_ms(lambda: sm2.verify_digest(spub, e, ssig), n)
    out["sm2_verify_with_sm3_ms"] = per_call_ms(lambda: sm2.verify(spub, digest, ssig, za=za), n)
    gm = gm_sm2.CryptSM2(private_key=priv.hex(), public_key=spub.hex())
    assert gm.verify(ssig.hex(), e)
    gn = max(5, n // 10)
    out["sm2_verify_ms_gmssl"] = per_call_ms(lambda: gm.verify(ssig.hex(), e), gn)
    assert gm.verify_with_sm3(ssig.hex(), digest)
    out["sm2_verify_with_sm3_ms_gmssl"] = per_call_ms(lambda: gm.verify_with_sm3(ssig.hex(), digest), gn)

    data = bytes(range(200))
    hn = n * 5
    out["keccak256_200b_ms"] = per_call_ms(lambda: keccak.keccak256(data), hn)
    out["keccak256_200b_ms_pycryptodome"] = per_call_ms(
        lambda: pc_keccak.new(digest_bits=256, data=data).digest(), hn * 10)
    out["sm3_200b_ms"] = per_call_ms(lambda: sm3.sm3(data), hn)
    out["sm3_200b_ms_openssl"] = per_call_ms(lambda: hashlib.new("sm3", data).digest(), hn * 10)
    dl = list(data)
    out["sm3_200b_ms_gmssl"] = per_call_ms(lambda: gm_sm3.sm3_hash(dl), max(5, hn // 10))

    out["ratio_secp256k1_verify_vs_python_ecdsa"] = out["secp256k1_verify_ms_python_ecdsa"] / out["secp256k1_verify_ms"]
    out["ratio_secp256k1_verify_vs_coincurve"] = out["secp256k1_verify_ms"] / out["secp256k1_verify_ms_coincurve"]
    out["ratio_sm2_verify_vs_gmssl"] = out["sm2_verify_ms_gmssl"] / out["sm2_verify_ms"]
    out["ratio_sm2_verify_with_sm3_vs_gmssl"] = out["sm2_verify_with_sm3_ms_gmssl"] / out["sm2_verify_with_sm3_ms"]
    return out


_MP_TIMER = """
import json, sys, time
from lightmeter.client import check
args = json.loads(sys.stdin.read())
res = check.check_header(args["block"], args["trust"])
assert res["valid"], res
t0 = time.ticks_us()
for i in range(args["n"]):
    check.check_header(args["block"], args["trust"])
print("elapsed_us", time.ticks_diff(time.ticks_us(), t0))
"""

_MP_LOADED = """
import json, sys
from lightmeter.client import check, trust
from lightmeter.chain import header
from lightmeter.crypto import suite
args = json.loads(sys.stdin.read())
"""
_MP_VERIFIED = _MP_LOADED + """
assert check.check_header(args["block"], args["trust"])["valid"]
"""


def micropython_headers(quick):
    """Header verification time and heap inside MicroPython, and the same check on CPython."""
    from lightmeter_host.runtimes import micropython

    with open(os.path.join(VECTORS, "fisco-doc-sm-block2.json")) as f:
        block2 = json.load(f)
    trust2 = {"chain_id": "chain0", "group_id": "group0", "crypto": "sm",
              "sealers": [{"node_id": x, "weight": 1} for x in block2["result"]["sealerList"]]}
    cases = {
        "header4": (block2, trust2),  # real chain: SM2, 3 of 4 sealers sign
        "header21": built_header("sm", 21, trust_mod.quorum(21)),  # SM2, 15 of 21
        "header21_ecdsa": built_header("ecdsa", 21, trust_mod.quorum(21)),
    }
    n = 2 if quick else 5
    out = {}
    from lightmeter.client import check
    for name, (block, trust) in cases.items():
        payload = json.dumps({"block": block, "trust": trust, "n": n})
        res = micropython.run(code=_MP_TIMER, stdin=payload, timeout=600)
        if res.returncode != 0:
            raise RuntimeError("MicroPython benchmark failed:\n" + res.stderr)
        us = int(res.stdout.split("elapsed_us")[1].split()[0])
        out[name + "_verify_ms_micropython"] = us / 1000 / n
        out[name + "_verify_ms_cpython"] = per_call_ms(lambda: check.check_header(block, trust), n)
    out.update(micropython_heap(*cases["header21"]))
    return out


def micropython_heap(block, trust):
    """Smallest MicroPython heap (real GC, firmware as .mpy) that verifies the header.

    Also the heap for loading the modules and the JSON input alone, so the
    verification's own share is visible.
    """
    import tempfile

    from lightmeter_host.runtimes import build, mpunix

    payload = json.dumps({"block": block, "trust": trust})
    with tempfile.TemporaryDirectory() as d:
        build.compile_firmware(d)
        loaded = mpunix.min_heap(_MP_LOADED, stdin=payload, modules=d)
        full = mpunix.min_heap(_MP_VERIFIED, stdin=payload, modules=d)
    return {"header21_peak_heap_kb_micropython": full / 1024,
            "header21_loaded_heap_kb_micropython": loaded / 1024}


def batch_quorum(quick=False):
    """One header's quorum (15 of 21 sealers, one hash): batch against single checks, and SM2's
    kept tables; CPython, the WebAssembly port and (not --quick) m0 instructions (batchbench.py)."""
    from lightmeter_host import batchbench
    return batchbench.collect(quick)


def collect(quick=False, node=False, link=False, sync=False, collector=False, batch=False, mcu=False,
            page=False):
    out = {"python": sys.version.split()[0], "quick": quick}
    if page:
        from lightmeter_host.collector import pagebench
        out.update(pagebench.run(quick))
        return out
    if batch:
        out.update(batch_quorum(quick))
        return out
    if mcu:
        from lightmeter_host import mcubench
        out.update(mcubench.collect())
        return out
    if collector:
        out.update(collector_ingest(quick))
        return out
    if sync:
        out.update(sync_memory(quick))
        return out
    if link:
        for crypto in ("ecdsa", "sm"):
            out[crypto] = link_vs_json(crypto, readings=3 if quick else 10)
        return out
    if node:
        out.update(node_throughput(quick))
        return out
    out.update(cpython_crypto(quick))
    out.update(micropython_headers(quick))
    from lightmeter_host.collector import bench as collector_bench
    out["collector_ingest_per_s"] = collector_bench.ingest_bench(1000 if quick else 5000)["readings_per_s"]
    return out


def collector_ingest(quick=False):
    """Verified readings ingested per second: SQLite and PostgreSQL (a throw-away server with its
    default durability, when one can be started here), native backends and the pure-Python path.
    The pure path is measured on fewer readings: it is the same code, only slower."""
    from lightmeter_host.collector import bench as collector_bench
    from lightmeter_host.collector.pgtemp import PgServer, PgUnavailable

    n = 1000 if quick else 10000
    out = {"collector_readings": n}
    out["collector_ingest_per_s"] = collector_bench.ingest_bench(n)["readings_per_s"]
    out["collector_ingest_pure_per_s"] = collector_bench.ingest_bench(n // 5, "pure")["readings_per_s"]
    try:
        pg = PgServer(durable=True)
    except PgUnavailable as e:
        out["collector_postgresql"] = "not measured: %s" % e
        return out
    try:
        out["collector_ingest_postgresql_per_s"] = collector_bench.ingest_bench(
            n, db_url=pg.new_database())["readings_per_s"]
        out["collector_ingest_postgresql_pure_per_s"] = collector_bench.ingest_bench(
            n // 5, "pure", db_url=pg.new_database())["readings_per_s"]
    finally:
        pg.stop()
    return out


def fleet_bench(meters=10000, readings=4, folder=None, say=None, runs=3):
    """`bench --fleet`: a simulated fleet (lightmeter_host.fleetsim: every reading verified on its
    own device, batches anchored by concentrators), then the collector's ingest of its batches from
    the stored chain (lightmeter_host.fleetbench: every check, batch contents over HTTP)
    into SQLite and a throw-away PostgreSQL (default durability), with one and two worker
    processes for the signatures, and with two collector workers on block ranges. The peer in the
    same run: the collector's ingest of readings sent one transaction each (collector.bench).

    folder: keep the simulated fleet there, or reuse the one already there (its ingest figures
    are then measured on that stored chain). runs: of each PostgreSQL variant, the median reported."""
    import shutil
    import tempfile

    from lightmeter_host import fleetsim
    from lightmeter_host import fleetbench
    from lightmeter_host.collector import bench as collector_bench
    from lightmeter_host.collector.pgtemp import PgServer, PgUnavailable

    say = say or (lambda line: None)
    tmp = None
    if folder is None:
        tmp = folder = tempfile.mkdtemp(prefix="lightmeter-fleetbench-")
    out = {"python": sys.version.split()[0]}
    try:
        stored = os.path.join(folder, "summary.json")
        if os.path.exists(stored):
            with open(stored) as f:
                summary = json.load(f)
            say("fleet: reusing the fleet stored in %s" % folder)
        else:
            os.makedirs(folder, exist_ok=True)
            s = fleetsim.simulate(meters, readings, batch_dir=os.path.join(folder, "batches"),
                                  chain_dir=os.path.join(folder, "chain"), progress=say)
            fleetbench.save_fleet(folder, s)
            summary = fleetsim.public(s)
            with open(stored, "w") as f:
                json.dump(summary, f)
        for k in ("fleet_meters", "fleet_readings", "fleet_verified_on_device", "chain_tx_per_reading",
                  "chain_txs", "batches", "batch_size_mean", "ok"):
            out[k] = summary[k]
        out["fleet_seconds"] = summary["seconds"]
        n = summary["fleet_verified_on_device"]
        with tempfile.TemporaryDirectory(prefix="lightmeter-fleetbench-db-") as d:
            got = fleetbench.ingest_fleet(folder, "sqlite://" + os.path.join(d, "c.db"), expect=n)
            out["collector_ingest_per_s_sqlite"] = got["readings_per_s"]
            out["collector_sqlite_cpu_us_per_reading"] = round(got["cpu_seconds"] * 1e6 / n, 1)
            say("collector: SQLite %s" % got)
        try:
            pg = PgServer(durable=True)
        except PgUnavailable as e:
            out["collector_postgresql"] = "not measured: %s" % e
            pg = None
        if pg is not None:
            try:
                for key, kw in (("collector_ingest_per_s_pg_one_walker", {}),
                                ("collector_ingest_per_s_pg_parallel2", {"parallel": 2}),
                                ("collector_ingest_per_s_pg_workers2", {"workers": 2}),
                                ("collector_ingest_per_s_pg_overlap", {"overlap": True}),
                                ("collector_ingest_per_s_pg_threads2_overlap",
                                 {"parallel": 2, "threads": True, "overlap": True}),
                                ("collector_ingest_per_s_pg_workers2_overlap", {"workers": 2, "overlap": True})):
                    # `runs` runs each into a fresh database: the median is the figure, every
                    # run is listed (a shared machine moves one run by a third)
                    done = []
                    try:
                        for _ in range(max(1, runs)):
                            url = pg.new_database()
                            c0 = pg.cpu_seconds()
                            got = fleetbench.ingest_fleet(folder, url, expect=n, **kw)
                            c1 = pg.cpu_seconds()
                            done.append((got["readings_per_s"], got, c0, c1))
                            say("collector: PostgreSQL %s %s" % (kw, got))
                    except NotImplementedError as e:
                        out[key] = "not measured: %s" % e
                        continue
                    done.sort(key=lambda r: r[0])
                    rate, got, c0, c1 = done[len(done) // 2]
                    out[key] = rate
                    out[key + "_runs"] = [r[0] for r in done]
                    if c0 is not None and c1 is not None:  # the database server's share of a reading
                        out[key.replace("collector_ingest_per_s_pg", "pg_server_cpu_us_per_reading")] = \
                            round((c1 - c0) * 1e6 / n, 1)
                    if got["cpu_seconds"] is not None:
                        out[key.replace("collector_ingest_per_s_pg", "collector_pg_cpu_us_per_reading")] = \
                            round(got["cpu_seconds"] * 1e6 / n, 1)
                # The figure the goal is read against: the collector as it is run for throughput,
                # one worker per core (`collect --range`, docs/collector.md "Several workers"), two
                # on a 2-core machine. A fixed choice, not the best of the variants' medians.
                out["collector_ingest_per_s_pg"] = out["collector_ingest_per_s_pg_workers2"]
                peer = collector_bench.ingest_bench(5000, db_url=pg.new_database())["readings_per_s"]
            finally:
                pg.stop()
            out["collector_ingest_per_s_pg_single_tx"] = peer
            # the same configuration on both sides: one walker
            out["batch_vs_single_tx_ingest_pg"] = round(out["collector_ingest_per_s_pg_one_walker"] / peer, 2)
        out["goal_collector_ingest_per_s_pg"] = 12000
        out["load_average_1min"] = round(os.getloadavg()[0], 2)  # others' work on the machine meanwhile
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(quick=False, as_json=False, node=False, link=False, sync=False, collector=False, batch=False,
         mcu=False, page=False, fleet=False, fleet_meters=10000, fleet_readings=4, fleet_dir=None, fleet_runs=3):
    if fleet:
        res = fleet_bench(fleet_meters, fleet_readings, fleet_dir,
                          say=lambda line: print(line, file=sys.stderr, flush=True), runs=fleet_runs)
    else:
        res = collect(quick, node, link, sync, collector, batch, mcu, page)
    if as_json:
        print(json.dumps(res, indent=2))
        return 0
    for k, v in res.items():
        print("%-44s %s" % (k, "%.4f" % v if isinstance(v, float) else v))
    return 0


CLIENTS = 32  # concurrent clients, each waiting for its receipt as an SDK does


def node_throughput(quick=False, crypto="ecdsa"):
    """Sustained sendTransaction rate and proof-serving latency of `lightmeter node`.

    Transactions (MeterRegistry.record from distinct devices) are signed before the
    clock starts; client threads send them over HTTP and each waits for its
    receipt, as SDKs do (CLIENTS of them). Proof latency is the round trip of
    getTransactionReceipt(hash, true) and getTransaction(hash, true).
    """
    import statistics
    import threading
    import urllib.request

    from lightmeter.chain import abi
    from lightmeter_host.chain import txbuild
    from lightmeter_host.node import registry
    from lightmeter_host.node.chain import Chain
    from lightmeter_host.node.server import NodeServer

    from lightmeter_host.chain import backends

    backends.install()  # as `lightmeter node` runs
    n_tx = 200 if quick else 2000
    srv = NodeServer(Chain(crypto=crypto, seed=b"bench"), "127.0.0.1", 0).start()
    h = suite_mod.get(crypto).hash

    def rpc(method, *params):
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": ["group0", ""] + list(params),
                           "id": 1}).encode()
        with urllib.request.urlopen(urllib.request.Request(srv.url, data=body), timeout=120) as r:
            return json.loads(r.read())["result"]

    try:
        raws = []
        for i in range(n_tx):
            tx = txbuild.make("chain0", "group0", 500, "bench-%d" % i, registry.ADDRESS,
                              abi.encode_call(RECORD, [1, b"r" * 64], h))
            raws.append(txbuild.sign(tx, crypto, hashlib.sha256(b"dev%d" % i).digest())[1].hex())
        queue = list(raws)
        lock = threading.Lock()
        digests = []

        errors = []

        def worker():
            while True:
                with lock:
                    if not queue or errors:
                        return
                    raw = queue.pop()
                try:
                    rc = rpc("sendTransaction", raw, False)
                    if rc["status"] != 0:
                        raise RuntimeError("status %s" % rc["status"])
                except Exception as e:  # reported after the threads end
                    with lock:
                        errors.append(e)
                    return
                with lock:
                    digests.append(rc["transactionHash"])

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        if errors:
            raise RuntimeError("node benchmark: %d requests failed, first: %r" % (len(errors), errors[0]))
        blocks = rpc("getBlockNumber")
        lat_r, lat_t = [], []
        for d in digests[: (50 if quick else 300)]:
            for method, acc in (("getTransactionReceipt", lat_r), ("getTransaction", lat_t)):
                t1 = time.perf_counter()
                rpc(method, d, True)
                acc.append((time.perf_counter() - t1) * 1000)
    finally:
        srv.stop()
    q = lambda xs, p: sorted(xs)[int(p * (len(xs) - 1))]
    return {
        "node_crypto": crypto,
        "node_transactions": n_tx,
        "node_tx_per_s": n_tx / elapsed,
        "node_blocks": blocks,
        "node_receipt_proof_ms_median": statistics.median(lat_r),
        "node_receipt_proof_ms_p95": q(lat_r, 0.95),
        "node_tx_proof_ms_median": statistics.median(lat_t),
        "node_tx_proof_ms_p95": q(lat_t, 0.95),
    }


def link_vs_json(crypto="ecdsa", sealers=4, readings=10):
    """Bytes on the device link against the node's JSON for the same data, and the
    demo's time per reading on MicroPython."""
    from lightmeter.chain import abi
    from lightmeter.link import frame, session as L, wire
    from lightmeter_host.chain import backends, txbuild
    from lightmeter_host import demo, relay
    from lightmeter_host.chain.rpc import Rpc
    from lightmeter_host.node import registry
    from lightmeter_host.node.chain import Chain
    from lightmeter_host.node.server import NodeServer

    backends.install()
    srv = NodeServer(Chain(crypto=crypto, sealers=sealers, seed=b"bench-link"), "127.0.0.1", 0).start()
    try:
        rpc = Rpc(srv.url)
        h = suite_mod.get(crypto).hash
        tx = txbuild.make("chain0", "group0", 500, "bench-link-1", registry.ADDRESS,
                          abi.encode_call(RECORD, [1, b"\xa0" * 120], h))
        digest, raw = txbuild.sign(tx, crypto, hashlib.sha256(b"bench-device").digest())
        send_json = json.dumps({"jsonrpc": "2.0", "method": "sendTransaction",
                                "params": ["group0", "", "0x" + raw.hex(), False], "id": 1})
        send_frame = frame.encode_frame(frame.pack(frame.VERSION, L.SEND_TX, 1, wire.tx_to_wire(tx)))
        rc = rpc("sendTransaction", "0x" + raw.hex(), False)
        hx = rc["transactionHash"]
        answers = [rpc("getTransactionReceipt", hx, True), rpc("getTransaction", hx, True),
                   rpc("getBlockByNumber", rc["blockNumber"], True, True)]
        proof_json = sum(len(json.dumps({"id": 1, "jsonrpc": "2.0", "result": a}, separators=(",", ":")))
                         for a in answers)
        atype, ans = relay.handle(rpc, L.GET_RECEIPT, {0: digest})
        proof_frame = frame.encode_frame(frame.pack(frame.VERSION, atype, 1, ans))
    finally:
        srv.stop()
    out = {
        "link_crypto": crypto, "link_sealers": sealers,
        "send_tx_frame_bytes": len(send_frame), "send_tx_json_bytes": len(send_json),
        "proof_answer_frame_bytes": len(proof_frame), "proof_answer_json_bytes": proof_json,
        "ratio_proof_json_vs_frame": proof_json / len(proof_frame),
    }
    s = demo.run(readings=readings, runtime="micropython", crypto=crypto, quiet=True)
    if not s["ok"]:
        raise RuntimeError("demo failed: %r" % s)
    out["demo_bytes_per_reading_micropython"] = s["bytes_per_reading"]
    out["demo_seconds_per_reading_micropython"] = s["seconds_per_reading"]
    return out


# -- sync in bounded memory -------------------------------------------------------------------

_MP_SYNC = """
import json, sys
from lightmeter.link import cbor, wire
from lightmeter.chain import header
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import sync, trust as trust_mod
args = json.loads(sys.stdin.read())


class FileSource:
    # One file per answer: <dir>/<n>.h (get_header payload) and <dir>/<n>.c (get_changes
    # payload), canonical CBOR as on the device link; read when sync asks, dropped after.
    def __init__(self, root, head, suite):
        self.root, self.top, self.suite, self.bytes = root, head, suite, 0

    def _load(self, n, kind):
        with open("%s/%d.%s" % (self.root, n, kind), "rb") as f:
            data = f.read()
        self.bytes += len(data)
        return cbor.loads(data)

    async def head(self):
        return self.top

    async def header(self, n):
        return header.from_json(wire.header_from_wire(self._load(n, "h")), self.suite.node_sig_len)

    async def changes(self, n):
        return sync.changes_from_wire(self._load(n, "c"))


trust = trust_mod.from_json(args["trust"])
suite = suite_mod.get(trust.crypto)
del args["trust"]
coro = sync.sync(trust, suite, FileSource(args["dir"], args["head"], suite), args["mode"])
trust = None
try:
    while True:
        coro.send(None)
except StopIteration as e:
    trust, stats = e.value
assert trust.number == args["head"], trust.number
assert trust.hash == bytes.fromhex(args["hash"]), "wrong head hash"
print("headers", stats["headers"], "proofs", stats["proofs"])
"""

SYNC_SEED = b"bench-sync"
SYNC_SET_CHANGES = 3


def export_sync_source(chain, root):
    """Write chain's blocks 1..head as one file per link answer (get_header, get_changes
    payloads in canonical CBOR) into root; (genesis TRUST.json with number and hash, head)."""
    from lightmeter.link import cbor, relaywire, session as L
    from lightmeter_host import relay
    from lightmeter_host.chain.rpc import Rpc
    from lightmeter_host.node.server import NodeServer

    srv = NodeServer(chain, "127.0.0.1", 0).start()
    try:
        rpc = Rpc(srv.url)
        head = rpc("getBlockNumber")
        for n in range(1, head + 1):
            with open(os.path.join(root, "%d.h" % n), "wb") as f:
                f.write(cbor.dumps(relaywire.header_to_wire(rpc("getBlockByNumber", n, True, True))))
            atype, payload = relay.handle(rpc, L.GET_CHANGES, {0: n})
            assert atype == L.CHANGES, payload
            with open(os.path.join(root, "%d.c" % n), "wb") as f:
                f.write(cbor.dumps(payload))
    finally:
        srv.stop()
    return head


def sync_memory(quick=False, crypto="ecdsa"):
    """Smallest MicroPython heap (Unix port, real GC, firmware as .mpy) that syncs a trust
    checkpoint from genesis to the head of a simulated chain, strictly and by skipping, for a
    short and a long chain: bounded memory shows as (nearly) the same heap for both lengths.

    Each chain has SYNC_SET_CHANGES sealer-set changes (simulate, same seed); the source reads
    one block's answer from a file when sync asks for it.
    """
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from lightmeter_host.runtimes import build, mpunix
    from lightmeter_host.node.chain import Chain
    from lightmeter_host.node.simulate import simulate

    lengths = (10, 40) if quick else (20, 160)
    out = {"sync_crypto": crypto, "sync_set_changes": SYNC_SET_CHANGES, "sync_blocks": list(lengths)}
    with tempfile.TemporaryDirectory() as d:
        mods = os.path.join(d, "mpy")
        os.mkdir(mods)
        build.compile_firmware(mods)
        jobs = {}
        for blocks in lengths:
            chain = Chain(crypto=crypto, seed=SYNC_SEED)
            genesis = {"chain_id": chain.chain_id, "group_id": chain.group_id, "crypto": crypto,
                       "sealers": [{"node_id": n.hex(), "weight": w} for n, w in chain.sealer_list()],
                       "number": 0, "hash": "0x" + chain.hashes[0].hex()}
            simulate(chain, blocks, SYNC_SET_CHANGES, SYNC_SEED)
            root = os.path.join(d, "chain%d" % blocks)
            os.mkdir(root)
            head = export_sync_source(chain, root)
            for mode in ("strict", "skipping"):
                payload = json.dumps({"trust": genesis, "dir": root, "head": head, "mode": mode,
                                      "hash": chain.hashes[head].hex()})
                jobs[(mode, blocks)] = payload

        def measure(key):
            payload = jobs[key]
            heap = mpunix.min_heap(_MP_SYNC, stdin=payload, hi=8 * 1024 * 1024, modules=mods)
            r = mpunix.run(_MP_SYNC, 8 * 1024 * 1024, payload, modules=mods)
            if r.returncode != 0:
                raise RuntimeError("MicroPython sync failed:\n" + r.stderr)
            words = r.stdout.split()
            return heap, int(words[words.index("headers") + 1])

        with ThreadPoolExecutor(max_workers=len(jobs)) as ex:
            results = dict(zip(jobs, ex.map(measure, list(jobs))))
    for (mode, blocks), (heap, headers) in sorted(results.items()):
        out["sync_%s_heap_kb_%d" % (mode, blocks)] = heap / 1024
        out["headers_%s_%d" % (mode, blocks)] = headers
    return out


# -- a device's day on a busy chain -----------------------------------------------------------------

def device_day(readings=96, blocks_between=900, set_changes=2, runtime="micropython", timeout=7200, mcu=False):
    """One device, `readings` readings `blocks_between` blocks apart on a chain sealing one block a
    second with background traffic (demo --blocks-between) and `set_changes` sealer-set changes,
    the firmware on MicroPython over the link with the relay, as in the demo. Per reading: the
    headers the device checked and the bytes on the wire (both directions). mcu: also the 32-bit
    port's instructions for one reading (device_day_mcu)."""
    from lightmeter_host import demo

    t0 = time.time()
    s = demo.run(readings=readings, runtime=runtime, quiet=True, timeout=timeout, collect=False,
                 blocks_between=blocks_between, set_changes=set_changes)
    per = s["per_reading"]
    heads = sorted(p["headers"] for p in per) or [0]
    sizes = sorted(p["bytes"] for p in per) or [0]
    crossing = [p for p in per if p["headers"] > 1]
    by_bytes = sorted(per, key=lambda p: p["bytes"])
    median = by_bytes[len(by_bytes) // 2] if by_bytes else {}
    out = {
        "device_day_blocks": s["blocks"], "device_day_readings": readings,
        "device_day_blocks_between": blocks_between, "device_day_set_changes": set_changes,
        "device_day_background_per_block": demo.BACKGROUND,
        "device_day_verified_on_device": s["verified_on_device"],
        "device_day_rejected_by_device": s["rejected_by_device"],
        "device_day_headers_per_reading_median": heads[len(heads) // 2],
        "device_day_headers_per_reading_max": heads[-1],
        "device_day_bytes_per_reading_median": sizes[len(sizes) // 2],
        "device_day_bytes_per_reading_max": sizes[-1],
        "device_day_bytes_crossing_a_set_change": [p["bytes"] for p in crossing],
        # the median reading's line bytes by message type ("in T": device to relay, "out T":
        # relay to device) and how many of them were resends; every reading's resent bytes
        "device_day_median_reading_bytes_by_type": median.get("by_type", {}),
        "device_day_resent_bytes_per_reading": [p["by_type"].get("resent", 0) for p in per],
        "device_day_seconds": round(time.time() - t0, 1),
        "device_day_ok": s["ok"],
    }
    if mcu:
        out.update(device_day_mcu())
    return out


def device_day_mcu():
    """Guest instructions (QEMU m0, the 32-bit port in mcu/) of one quiet reading of the day: the
    receipt answer off the UART (compact proofs, the reading first in a block of 1 + BACKGROUND
    transactions), the header's quorum under the checkpoint's set, the proofs and the log, the
    checkpoint stored, the next reading signed (mcubench's device cycle, 4 sealers as the demo
    chain's). A reading across a set change adds one such header and its change's proofs."""
    from lightmeter_host import demo, mcubench
    r = mcubench.cycle_once("ecdsa", 4, target="m0", txs_in_block=1 + demo.BACKGROUND, position=0,
                            compact=True)
    cycle = sum(v for k, v in r["steps"].items() if k != "setup")
    return {"device_day_minstr_per_reading": round(cycle / 1e6, 2),
            "device_day_minstr_per_reading_steps": {k: round(v / 1e6, 2) for k, v in r["steps"].items()
                                                    if k != "setup"},
            "device_day_mcu_ms_per_reading_133mhz": round(cycle / mcubench.CLOCK_HZ * 1000, 1)}


def device_day_main(as_json=False, readings=96, blocks_between=900):
    from lightmeter_host.runtimes import mcu
    try:  # the 32-bit figures when the port is built (LIGHTMETER_MCU_DIR) and QEMU is there
        have_mcu = bool(mcu.executable("m0"))
    except mcu.McuError:
        have_mcu = False
    res = device_day(readings, blocks_between, mcu=have_mcu)
    if as_json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print("%-42s %s" % (k, v))
    return 0 if res["device_day_verified_on_device"] >= readings else 1
