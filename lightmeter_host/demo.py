"""`lightmeter demo`: the whole path on one machine.

A local node, a virtual board running the real firmware (CPython or real
MicroPython), and the relay between them over a pseudo-terminal. The device
reads its simulated meter, signs each reading, submits it, and verifies on its
own that it is on chain. The demo watches the device's results and then counts
on the chain itself what got anchored, so the summary is not the device's word
alone. With --faults it adds line noise, kills and restarts the relay, restarts
the node and resets the device in the middle.

Last, the utility's side: the collector reads the chain, verifies every reading
on its own (quorum, proofs, the device's signature against the fleet manifest),
stores it with its evidence in a SQLite database, and re-verifies the database
from that evidence alone. With a data directory everything is kept there:
node/ (the chain), device/ (the board's flash), fleet.json and collector.db.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from lightmeter.chain import abi
from lightmeter.chain.meter_registry import READING_EVENT
from lightmeter.device import store as store_mod
from lightmeter.crypto import suite as suite_mod

from lightmeter_host.chain import backends
from lightmeter_host.hardware import fleet
from lightmeter_host.node import registry
from lightmeter_host.node.chain import Chain
from lightmeter_host.node.server import NodeServer


_EXCHANGE = re.compile(r"#(\d+) type (\d+) \((\d+) B\) -> type (\d+) \((\d+) B\)")
_SKIPPED = re.compile(r"#\d+ type (\d+) \((\d+) B\) skipped")
NOISE = 0.0002  # --faults: share of bytes the relay drops or flips, each way


def _say(quiet, *args):
    if not quiet:
        print(*args, file=sys.stderr, flush=True)


class Relay:
    """The relay as its own process, so that it can be killed like a real one."""

    def __init__(self, port, rpc_url, noise):
        self.args = [sys.executable, "-m", "lightmeter_host.cli", "relay", "--port", port, "--rpc", rpc_url,
                     "--noise", str(noise)]
        self.bytes = 0
        self.tally = {}  # "in T" / "out T": line bytes by message type and direction; "resent"
        self.sent_tx = threading.Event()  # set when a send_tx has just been forwarded
        self.answered = []  # the type of every request answered, in order, across restarts
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._count, args=(self.proc,), daemon=True).start()

    def _count(self, proc):
        # "#id type t (N B) -> type u (M B)": line bytes of both frames (relay.Port)
        last = None
        for line in proc.stderr:
            if " type 9 " in line:
                self.sent_tx.set()
            parts = line.replace("(", " ").split()
            if len(parts) > 3 and parts[1].startswith("#") and parts[2] == "type" and parts[3].isdigit():
                self.answered.append(int(parts[3]))
            nums = [int(parts[i - 1]) for i, p in enumerate(parts) if p == "B)" and parts[i - 1].isdigit()]
            m = _EXCHANGE.search(line)
            if m:
                rid, t, n_in, u, n_out = (int(x) for x in m.groups())
                _add(self.tally, "in %d" % t, n_in)
                _add(self.tally, "out %d" % u, n_out)
                if (rid, t) == last:  # the device sent this request again: it had no answer in time
                    _add(self.tally, "resent", n_in + n_out)
                last = (rid, t)
            elif _SKIPPED.search(line):
                t, n_in = (int(x) for x in _SKIPPED.search(line).groups())
                _add(self.tally, "in %d" % t, n_in)
                _add(self.tally, "resent", n_in)
            elif nums:
                _add(self.tally, "other", sum(nums))
            self.bytes += sum(nums)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _device_files(root, node, readings, **config):
    """The board's flash as provisioning leaves it: trust.json (the genesis set, confirmed as
    current now: the trusting period counts from the chain's clock at provisioning) and
    config.json (config: extra settings)."""
    os.makedirs(root, exist_ok=True)
    c = node.chain
    genesis = c.hashes[0]
    trust = {"chain_id": c.chain_id, "group_id": c.group_id, "crypto": c.crypto,
             "sealers": [{"node_id": n.hex(), "weight": w} for n, w in c.sealer_list()],
             "number": 0, "hash": "0x" + genesis.hex(), "timestamp": c.now()}
    cfg = {"meter_id": "demo-meter-1", "vendor": "lightmeter", "model": "virtual", "serial": "0001",
           "registry": "0x" + registry.ADDRESS.hex(), "readings": readings, "interval_ms": 100,
           "timeout_ms": 1500, "retries": 3}
    cfg.update(config)
    with open(os.path.join(root, "trust.json"), "w") as f:
        json.dump(trust, f)
    with open(os.path.join(root, "config.json"), "w") as f:
        json.dump(cfg, f)


def _results(root):
    try:
        raw = store_mod.Blob(store_mod.Store(root, recover=False), "results").load()
    except (OSError, ValueError):
        return None
    return json.loads(raw) if raw else None


def _on_chain(chain, device):
    """{seq: count} of MeterRegistry Reading events for device, read from the chain."""
    s = chain.suite
    topic = "0x" + abi.event_topic(READING_EVENT, s.hash).hex()
    who = "0x" + (bytes(12) + device).hex()
    seen = {}
    for n in range(1, chain.height() + 1):
        for _, _, _, rc in chain.store.block_txs(n):
            for log in rc["logEntries"]:
                if log["address"] == registry.ADDRESS.hex() and log["topics"][:2] == [topic, who]:
                    seq = int(log["topics"][2], 16)
                    seen[seq] = seen.get(seq, 0) + 1
    return seen


def _add(tally, key, n):
    tally[key] = tally.get(key, 0) + n


def _since(now, before):
    """The tally's growth since an earlier copy of it (keys that grew only)."""
    return {k: v - before.get(k, 0) for k, v in sorted(now.items()) if v != before.get(k, 0)}


class DemoError(Exception):
    """The demo cannot start as asked (a data directory that already holds something)."""


def _data_dir(data):
    """(directory, keep): --data must be new or empty, so that a demo never mixes with old data."""
    if data is None:
        return tempfile.mkdtemp(prefix="lightmeter-demo-"), False
    data = os.path.abspath(data)
    if os.path.exists(data) and (not os.path.isdir(data) or os.listdir(data)):
        raise DemoError("%s is not an empty directory: give a new one (the demo starts a fresh chain)" % data)
    os.makedirs(data, exist_ok=True)
    return data, True


def _fleet_entry(root, chain, cfg_meter):
    """The device as provisioning would list it: its public key read from its flash."""
    pub = store_mod.Blob(store_mod.Store(root), "public").load()
    if pub is None:
        return None
    s = suite_mod.get(chain.crypto)
    return {"meter_id": cfg_meter, "address": "0x" + s.address(pub).hex(), "public_key": "0x" + pub.hex(),
            "suite": chain.crypto, "board": "virtual", "chain_id": chain.chain_id, "group_id": chain.group_id,
            "registry": "0x" + registry.ADDRESS.hex(),
            "provisioned_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _collect(data, root, node, quiet):
    """Run the collector against the node, then re-verify its database offline:
    (collect summary, verify report, db url)."""
    from lightmeter_host.collector import db as db_mod, ingest, reverify

    with open(os.path.join(root, "trust.json")) as f:
        trust = json.load(f)
    with open(os.path.join(root, "config.json")) as f:
        meter = json.load(f)["meter_id"]
    entry = _fleet_entry(root, node.chain, meter)
    path = os.path.join(data, "fleet.json")
    if entry is not None:
        fleet.add(path, entry)
    url = "sqlite://" + os.path.join(data, "collector.db")
    _say(quiet, "collector: reading the chain into %s" % url)
    summary = ingest.collect(node.url, trust, fleet.load(path), url)
    database = db_mod.open_db(url)
    try:
        report = reverify.verify_db(database, trust, fleet.load(path))
    finally:
        database.close()
    _say(quiet, "collector: %d readings stored and verified; the database re-verifies %s"
         % (summary.get("verified", 0), "clean" if report["ok"] else "WITH PROBLEMS"))
    return summary, report, url


BACKGROUND = 50  # --blocks-between: transactions of other contracts in every block


def busy(chain, blocks_between, background=BACKGROUND, gap=None):
    """Make chain a busy shared chain: one block a second (simulated clock), `background`
    transactions of other contracts in every block, and after each block the sealer thread seals
    (a device's reading), blocks_between - 1 background-only blocks, so readings lie
    blocks_between blocks apart. gap(n), when given, replaces the latter (the bench's set changes)."""
    from lightmeter_host.node import simulate
    simulate.block_clock(chain, 1000)
    chain.background_per_block = background
    chain.after_block = gap or (lambda n: simulate.simulate(chain, blocks_between - 1, readings=False))


def run(readings=3, runtime="python", crypto="ecdsa", faults=False, quiet=False, timeout=600, data=None,
        collect=True, fisco_version=None, blocks_between=0, set_changes=0):
    """Run the demo; returns the summary dict (ok: every reading anchored and verified once, and
    collected and verified by the collector). data: the directory to keep everything in (new or
    empty); None: a temporary one, removed at the end. fisco_version: the FISCO BCOS release
    "3.Y" the node answers as (lightmeter_host/node/releases.py; default the newest).
    blocks_between: a busy chain (busy())."""
    from lightmeter_host.vboard.board import VirtualBoard

    backends.install()
    tmp, keep = _data_dir(data)
    node_dir, root = os.path.join(tmp, "node"), os.path.join(tmp, "device")
    chain = Chain(crypto=crypto, data_dir=node_dir, seed=b"demo", release=fisco_version)
    if blocks_between > 1:
        busy(chain, blocks_between, gap=_gaps(chain, blocks_between, readings, set_changes))
    node = NodeServer(chain, "127.0.0.1", 0).start()
    port = node.httpd.server_address[1]
    _device_files(root, node, readings)
    board = VirtualBoard(runtime=runtime, root=root)
    pty = board.start()
    relay = Relay(pty, node.url, NOISE if faults else 0.0)
    _say(quiet, "node %s, board (%s) on %s, relay running; %d readings to anchor"
         % (node.url, runtime, pty, readings))
    t0 = time.time()
    done_faults = set()
    last = None
    per_reading = {}  # seq -> {"block", "headers", "bytes"}: bytes on the wire since the previous one
    tallied = {}
    try:
        while time.time() - t0 < timeout:
            res = _results(root) or {"verified": 0, "rejected": 0}
            for e in res.get("last", []):
                if e["seq"] not in per_reading:
                    now = dict(relay.tally)  # one copy: the reader thread keeps adding to it
                    grew = _since(now, tallied)
                    per_reading[e["seq"]] = {"block": e["block"], "headers": e.get("headers", 0),
                                             "bytes": sum(v for k, v in grew.items() if k != "resent"),
                                             "by_type": grew}
                    tallied = now
            if res.get("verified") != last:
                last = res.get("verified")
                _say(quiet, "  %5.1fs  verified on the device: %d/%d" % (time.time() - t0, last, readings))
            if faults:
                node = _inject(res.get("verified", 0), done_faults, relay, node, board, node_dir, port, quiet)
            if res.get("verified", 0) >= readings:
                break
            time.sleep(0.2)
        elapsed = time.time() - t0
        if blocks_between > 1:  # the last reading's gap too: the run covers readings * B blocks
            while node.chain.height() < readings * blocks_between and time.time() - t0 < timeout:
                time.sleep(0.2)
        relay.stop()
        board.stop()
        collected = _collect(tmp, root, node, quiet) if collect else None
    finally:
        relay.stop()
        board.stop()
        node.stop()
    res = _results(root) or {"verified": 0, "anchored": 0, "rejected": 0}
    chain.store.close()
    chain = Chain(data_dir=node_dir)
    pub = store_mod.Blob(store_mod.Store(root), "public").load()
    device = suite_mod.get(chain.crypto).address(pub) if pub else bytes(20)
    seen = _on_chain(chain, device)
    chain.store.close()
    signed = store_mod.Counter(store_mod.Store(root)).peek()
    anchored = sum(1 for q in range(1, readings + 1) if seen.get(q))
    summary = {
        "runtime": runtime, "crypto": crypto, "faults": faults, "readings": readings,
        "signed": signed, "anchored": anchored, "verified_on_device": res.get("verified", 0),
        "rejected_by_device": res.get("rejected", 0),
        "lost": readings - anchored, "duplicates": sum(c - 1 for c in seen.values() if c > 1),
        "bytes_on_wire": relay.bytes, "bytes_per_reading": relay.bytes // max(1, readings),
        "headers_per_reading": _headers_per_reading(res, readings), "blocks_between": blocks_between,
        "per_reading": [dict(seq=k, **v) for k, v in sorted(per_reading.items())],
        "blocks": chain.height(),
        "seconds": round(elapsed, 2), "seconds_per_reading": round(elapsed / max(1, readings), 2),
        "faults_injected": sorted(done_faults),
    }
    summary["ok"] = (summary["anchored"] == readings and summary["verified_on_device"] >= readings
                     and summary["duplicates"] == 0 and summary["lost"] == 0)
    if collected is not None:
        got, report, url = collected
        summary["collected"] = got.get("verified", 0)
        summary["collector_rejected"] = got.get("rejected", 0)
        summary["collector_verified"] = report["good"] if report["ok"] else 0
        summary["ok"] = (summary["ok"] and summary["collected"] == readings and got.get("rejected", 0) == 0
                         and report["ok"] and report["good"] == readings)
        if keep:
            summary["data"] = tmp
            summary["collector_db"] = url
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary


def _gaps(chain, blocks_between, readings, set_changes):
    """The sealer thread's hook after a reading's block: blocks_between - 1 background blocks,
    with one sealer-set change in the gaps after readings spread evenly over the run."""
    from lightmeter_host.node import simulate
    at = {((2 * j + 1) * readings) // (2 * set_changes) for j in range(set_changes)} if set_changes else set()
    seen = [0]

    def gap(n):
        seen[0] += 1
        simulate.simulate(chain, blocks_between - 1, 1 if seen[0] in at else 0, b"gap-%d" % seen[0],
                          readings=False)
    return gap


def _headers_per_reading(res, readings):
    """Headers the device checked per verified reading (its results' last entries)."""
    got = [e.get("headers", 0) for e in res.get("last", [])][-readings:]
    return round(sum(got) / len(got), 2) if got else 0


def _inject(verified, done, relay, node, board, node_dir, port, quiet):
    """The fault schedule of --faults, keyed by progress."""
    if verified >= 1 and "relay" not in done:
        done.add("relay")
        _say(quiet, "  fault: relay killed and restarted")
        relay.kill()
        time.sleep(0.5)
        relay.start()
    elif verified >= 1 and "device-reset" not in done:
        relay.sent_tx.clear()
        if not relay.sent_tx.wait(30):  # cut the power right after a submission went out
            return node
        done.add("device-reset")
        _say(quiet, "  fault: device reset (power cut) right after submitting a transaction")
        board.kill()
        time.sleep(0.3)
        board.restart()
    elif verified >= 2 and "node" not in done:
        done.add("node")
        _say(quiet, "  fault: node restarted")
        node.stop()
        node = NodeServer(Chain(data_dir=node_dir, release=node.chain.release), "127.0.0.1", port).start()
    return node


def main(readings=3, runtime="python", crypto="ecdsa", faults=False, as_json=False, data=None, blocks_between=0):
    """The command: with no --data the run's files are kept in a new temporary directory too, so
    that the collector's page can be opened afterwards."""
    if data is None:
        data = tempfile.mkdtemp(prefix="lightmeter-demo-")
    summary = run(readings, runtime, crypto, faults, quiet=as_json, data=data, blocks_between=blocks_between)
    if as_json:
        print(json.dumps(summary))
    else:
        for k, v in summary.items():
            print("%-20s %s" % (k, v))
        if "collector_db" in summary:
            print("\nThe collector's web page (fleet and plots):\n  %s collector serve --db %s\n"
                  "then open http://127.0.0.1:8080/" % (_lightmeter(), summary["collector_db"]))
    return 0 if summary["ok"] else 1


def _lightmeter():
    """How to call the command again: the script beside this Python if there is one."""
    exe = os.path.join(os.path.dirname(sys.executable), "lightmeter")
    return exe if os.path.exists(exe) else "lightmeter"
