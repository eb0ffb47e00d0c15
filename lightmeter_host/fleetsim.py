"""`lightmeter fleet simulate`: a city district of virtual meters through concentrators.

M devices run the real firmware device code (lightmeter.device.app with its batch mode,
lightmeter.device.batchapp) on CPython, many in one process, each with its own flash directory
(on tmpfs where there is one), key, counter, durable queue and trust checkpoint. Each talks over an
in-process link (`InProcessLink`: the serial link's `request` interface, every message through
canonical CBOR both ways as on the wire) to one of C concentrators (lightmeter_host.concentrator),
which anchor batches on a local node (lightmeter_host.node) in the same process. Readings come in
rounds, as meters read every 15 minutes: each round every device takes one reading and works on it
until it has verified on its own that its batch is on chain. The native crypto backends
(lightmeter_host.chain.backends, signing included) keep 10,000 devices within minutes.

The summary counts from the devices' own results (verified_on_device) and from the chain
(transactions per reading), not from the concentrators' word.
"""

import asyncio
import json
import os
import random
import shutil
import tempfile
import threading
import time

from lightmeter.crypto import suite as suite_mod
from lightmeter.errors import LightmeterError, Malformed
from lightmeter.link import cbor, session as L

from lightmeter_host import concentrator as conc_mod
from lightmeter_host.chain import backends
from lightmeter_host.chain.rpc import NodeError
from lightmeter_host.node import jsonrpc, registry
from lightmeter_host.node.chain import Chain


class InProcessRpc:
    """The node's JSON-RPC methods called in this process (the JSON-RPC client's call interface (chain.rpc.Rpc))."""

    def __init__(self, chain):
        self.methods = jsonrpc.Methods(chain)
        self.group = chain.group_id
        self.received = 0
        # the key relay.handle caches chain data under (a node's URL elsewhere): one per chain
        self.url = "inprocess:%x" % id(chain)

    def __call__(self, method, *params):
        _, result, error = self.methods.handle({"jsonrpc": "2.0", "method": method, "id": 1,
                                                "params": [self.group, ""] + list(params)})
        if error is not None:
            raise NodeError(error[0], error[1])
        return result


class InProcessLink:
    """A device's link to a concentrator in the same process: `request` as
    lightmeter.link.session.Link has it, each payload through canonical CBOR both ways."""

    def __init__(self, target):
        self.target = target  # a Concentrator, or anything with handle(rpc, type, payload)
        self.sent_bytes = self.received_bytes = self.resends = 0

    async def request(self, mtype, payload=None):
        body = cbor.dumps(payload)
        self.sent_bytes += len(body)
        try:
            atype, answer = self.target.handle(None, mtype, cbor.loads(body))
        except NodeError as e:
            atype, answer = L.ERROR, {0: L.E_NODE_ERROR, 1: "%s %s" % (e.code, e)}
        except ConnectionError as e:
            atype, answer = L.ERROR, {0: L.E_NODE_UNREACHABLE, 1: str(e)}
        except (LightmeterError, KeyError, TypeError, IndexError) as e:
            atype, answer = L.ERROR, {0: L.E_MALFORMED, 1: "malformed request: %s" % e}
        out = cbor.dumps(answer)
        self.received_bytes += len(out)
        await asyncio.sleep(0)  # let the other devices run
        answer = cbor.loads(out)
        if atype == L.ERROR:
            if not isinstance(answer, dict):
                raise L.RemoteError(0, "malformed error")
            raise L.RemoteError(answer.get(0, 0), answer.get(1, ""))
        if atype != L.ANSWERS[mtype]:
            raise Malformed("answer of type %d to a request of type %d" % (atype, mtype))
        return answer


class native:
    """Native crypto, signing included, for the duration of a `with`; what was installed before
    stays installed after."""

    def __enter__(self):
        self.mine = backends._saved is None
        backends.install()
        self.signing = "sign_tx" not in suite_mod.get("ecdsa").__dict__
        backends.install_signing()
        return self

    def __exit__(self, *exc):
        if self.signing:
            backends.uninstall_signing()
        if self.mine:
            backends.uninstall()


def _quiet():
    """The firmware's per-reading log lines, off (thousands of devices share one stderr)."""
    from lightmeter.device import app, batchapp
    app.log = batchapp.log = lambda *args: None


def device_files(root, chain, meter_id, readings, deadline=20):
    """config.json and trust.json of a batch-mode device (trust: the genesis block)."""
    os.makedirs(root, exist_ok=True)
    trust = {"chain_id": chain.chain_id, "group_id": chain.group_id, "crypto": chain.crypto,
             "sealers": [{"node_id": n.hex(), "weight": w} for n, w in chain.sealer_list()],
             "number": 0, "hash": "0x" + chain.hashes[0].hex()}
    cfg = {"meter_id": meter_id, "vendor": "lightmeter", "model": "virtual", "serial": meter_id[-6:],
           "registry": "0x" + registry.ADDRESS.hex(), "readings": readings, "anchor": "batch",
           "batch_deadline": deadline}
    with open(os.path.join(root, "trust.json"), "w") as f:
        json.dump(trust, f)
    with open(os.path.join(root, "config.json"), "w") as f:
        json.dump(cfg, f)


class Sealer:
    """Seals a block every block_ms while transactions wait (FISCO makes no empty blocks)."""

    def __init__(self, chain, block_ms):
        self.chain, self.block_ms = chain, block_ms
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.wait(self.block_ms / 1000):
            self.chain.seal()

    def close(self):
        self.stop.set()
        self.thread.join()


async def _device_round(dev, poll_s, rng, deadline_s):
    """Take one reading and work on the queue until it is empty (verified) or time is up."""
    dev.take_reading()
    await asyncio.sleep(rng.random() * poll_s)  # meters do not all speak in the same millisecond
    end = time.monotonic() + deadline_s
    while len(dev.queue) and time.monotonic() < end:
        for key, raw in dev.queue.items():
            try:
                await dev.process(key, dev._unrecord(raw))
            except LightmeterError:
                break  # link trouble: try again next poll
        if len(dev.queue):
            await asyncio.sleep(poll_s * (0.5 + rng.random()))


def _chain_counts(chain):
    txs = 0
    for n in range(1, chain.height() + 1):
        txs += len(chain.store.block_txs(n))
    return txs


BATCH_MAX = 1024  # the concentrators' window in the simulation: meters of one round fill it
BATCH_MS = 5000


def simulate(meters, readings, concentrators=1, crypto="ecdsa", batch_max=BATCH_MAX, batch_ms=BATCH_MS,
             block_ms=500, poll_ms=1000, round_timeout=600, work_dir=None, progress=None, setup=None,
             batch_dir=None, chain_dir=None):
    """Run the fleet; returns the summary dict. setup(devices, concentrators), when given, is
    called before the first round (tests swap a concentrator or a link there). batch_dir: the
    concentrators keep their batches there (lightmeter_host.batchstore), for a collector;
    chain_dir: the node keeps its chain there (lightmeter_host.node), to be read again later."""
    with native():
        return _simulate(meters, readings, concentrators, crypto, batch_max, batch_ms, block_ms, poll_ms,
                         round_timeout, work_dir, progress, setup, batch_dir, chain_dir)


def _simulate(meters, readings, concentrators, crypto, batch_max, batch_ms, block_ms, poll_ms, round_timeout,
              work_dir, progress, setup, batch_dir=None, chain_dir=None):
    from lightmeter_host import batchstore
    from lightmeter.device import app

    say = progress or (lambda line: None)
    _quiet()
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    tmp = work_dir or tempfile.mkdtemp(prefix="lightmeter-fleet-", dir=shm)
    chain = Chain(crypto=crypto, seed=b"fleet", data_dir=chain_dir)
    rpc = InProcessRpc(chain)
    sealer = Sealer(chain, block_ms)
    store = batchstore.BatchStore(batch_dir) if batch_dir else None
    concs = [conc_mod.Concentrator(rpc, crypto, chain.chain_id, chain.group_id, registry.ADDRESS,
                                   batch_max=batch_max, batch_ms=batch_ms, store=store).start()
             for _ in range(concentrators)]
    t0 = time.time()
    try:
        devices = []
        for i in range(meters):
            root = os.path.join(tmp, "m%06d" % i)
            device_files(root, chain, "fleet-%06d" % i, readings)
            dev = app.Device(None, root)
            dev.link = InProcessLink(concs[i % concentrators])
            devices.append(dev)
        t_setup = time.time() - t0
        say("fleet: %d devices ready in %.1f s, %d concentrator(s)" % (meters, t_setup, concentrators))
        if setup:
            setup(devices, concs)
        rng = random.Random(1)

        async def rounds():
            for r in range(readings):
                t = time.time()
                await asyncio.gather(*(_device_round(d, poll_ms / 1000, rng, round_timeout) for d in devices))
                say("fleet: round %d/%d in %.1f s (height %d, batches %d)"
                    % (r + 1, readings, time.time() - t, chain.height(), sum(c.stats["batches"] for c in concs)))

        asyncio.run(rounds())
        elapsed = time.time() - t0
    finally:
        for c in concs:
            c.stop()
        sealer.close()
    results = [d._results() for d in devices]
    verified = sum(r["verified"] for r in results)
    rejected = sum(r["rejected"] for r in results)
    taken = sum(d.counter.peek() for d in devices)
    queued = sum(len(d.queue) for d in devices)
    txs = _chain_counts(chain)
    link_bytes = sum(d.link.sent_bytes + d.link.received_bytes for d in devices)
    batches = [len(b.leaves) for c in concs for b in c.batches if b.state == conc_mod.ON_CHAIN]
    summary = {
        "fleet_meters": meters, "fleet_readings": taken, "fleet_verified_on_device": verified,
        "chain_tx_per_reading": txs / max(1, taken), "chain_txs": txs, "chain_blocks": chain.height(),
        "concentrators": concentrators, "batches": len(batches),
        "batch_size_mean": round(sum(batches) / max(1, len(batches)), 1), "batch_size_max": max(batches or [0]),
        "rejected_by_devices": rejected, "still_queued": queued,
        "link_bytes_per_reading": link_bytes // max(1, taken), "crypto": crypto,
        "seconds": round(elapsed, 1), "seconds_setup": round(t_setup, 1),
    }
    summary["ok"] = verified == meters * readings and taken == meters * readings and queued == 0
    if work_dir is None:
        shutil.rmtree(tmp, ignore_errors=True)
    summary["_devices"], summary["_concentrators"], summary["_chain"] = devices, concs, chain
    return summary


def public(summary):
    """The summary without the live objects simulate() leaves for tests."""
    return {k: v for k, v in summary.items() if not k.startswith("_")}


def main(meters, readings, concentrators=1, crypto="ecdsa", as_json=False, batch_max=BATCH_MAX,
         batch_ms=BATCH_MS, block_ms=500):
    import sys
    say = None if as_json else (lambda line: print(line, file=sys.stderr, flush=True))
    s = public(simulate(meters, readings, concentrators, crypto, batch_max, batch_ms, block_ms, progress=say))
    if as_json:
        print(json.dumps(s))
    else:
        for k, v in s.items():
            print("%-26s %s" % (k, v))
    return 0 if s["ok"] else 1


def fleet_entries(summary):
    """The fleet manifest of a simulated fleet (lightmeter_host.hardware.fleet entries), as
    provisioning would have written it: what a collector needs to accept its readings."""
    chain = summary["_chain"]
    out = []
    for d in summary["_devices"]:
        pub = d.suite.public_key(d.key)
        out.append({"meter_id": d.cfg["meter_id"], "address": "0x" + d.address.hex(), "public_key": "0x" + pub.hex(),
                    "suite": d.suite.name, "board": "virtual", "chain_id": chain.chain_id,
                    "group_id": chain.group_id, "registry": d.cfg["registry"],
                    "provisioned_at": "2026-01-01T00:00:00Z"})
    return out


def genesis_trust(chain):
    """TRUST.json of the chain's genesis block (where a collector of the whole fleet starts)."""
    return {"chain_id": chain.chain_id, "group_id": chain.group_id, "crypto": chain.crypto,
            "sealers": [{"node_id": n.hex(), "weight": w} for n, w in chain.sealer_list()],
            "number": 0, "hash": "0x" + chain.hashes[0].hex()}
