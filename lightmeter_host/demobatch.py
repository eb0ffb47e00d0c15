"""`lightmeter demo --meters M --batch`: the demo with a data concentrator (proto/batch.md).

A local node; a concentrator (lightmeter_host.concentrator) behind the relay's serial port code;
one virtual board running the real firmware in batch mode on the chosen runtime (MicroPython by
default, or CPython) on a pseudo-terminal, exactly as in the one-meter demo; and M - 1 more meters
running the same firmware device code on CPython in this process, on in-process links to the same
concentrator (lightmeter_host.fleetsim). Every meter signs its readings, the concentrator anchors
them in batches, and every meter verifies its own readings on chain. The summary counts what the
devices verified and what the chain holds (transactions per reading).

The collector is not run here: in batch mode the chain holds roots, not readings, and the
collector does not yet take leaves from concentrators.
"""

import asyncio
import os
import shutil
import tempfile
import threading
import time

from lightmeter_host import concentrator as conc_mod, fleetsim, relay
from lightmeter_host.chain.rpc import Rpc
from lightmeter_host.demo import _device_files, _results, _say
from lightmeter_host.node import registry
from lightmeter_host.node.chain import Chain
from lightmeter_host.node.server import NodeServer


class _LoopThread:
    """An asyncio loop in a thread of its own, running one coroutine until stopped."""

    def __init__(self, coro_fn):
        self.loop = asyncio.new_event_loop()
        self.task = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(coro_fn,), daemon=True)
        self.thread.start()

    def _run(self, coro_fn):
        asyncio.set_event_loop(self.loop)
        self.task = self.loop.create_task(coro_fn())
        try:
            self.loop.run_until_complete(self.task)
        except (asyncio.CancelledError, Exception):
            pass
        finally:
            self.done.set()

    def stop(self):
        if self.task is not None and not self.done.is_set():
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.done.wait(10)


def run(meters=10, readings=2, runtime="python", crypto="ecdsa", quiet=False, timeout=600,
        batch_max=conc_mod.BATCH_MAX, batch_ms=1500):
    from lightmeter.device import app
    from lightmeter_host.vboard.board import VirtualBoard

    native = fleetsim.native().__enter__()  # native crypto (signing too): many meters in process
    tmp = tempfile.mkdtemp(prefix="lightmeter-demo-batch-")
    node = NodeServer(Chain(crypto=crypto, data_dir=os.path.join(tmp, "node"), seed=b"demo"), "127.0.0.1", 0).start()
    rpc = Rpc(node.url)
    conc = conc_mod.Concentrator.from_node(rpc, batch_max=batch_max, batch_ms=batch_ms).start()
    board_root = os.path.join(tmp, "board")
    _device_files(board_root, node, readings)
    import json
    with open(os.path.join(board_root, "config.json")) as f:
        cfg = json.load(f)
    cfg.update(anchor="batch", interval_ms=300, timeout_ms=3000)
    with open(os.path.join(board_root, "config.json"), "w") as f:
        json.dump(cfg, f)
    board = VirtualBoard(runtime=runtime, root=board_root)
    pty = board.start()
    port = relay.Port(pty, rpc, log=lambda line: None, handler=conc.handle)
    serving = _LoopThread(port.serve)
    # the other meters: the same firmware in this process
    fleetsim._quiet()
    others = []
    for i in range(1, meters):
        root = os.path.join(tmp, "m%04d" % i)
        fleetsim.device_files(root, node.chain, "demo-meter-%d" % (i + 1), readings)
        d = app.Device(None, root)
        d.link = fleetsim.InProcessLink(conc)
        others.append(d)

    async def drive():
        async def one(d):
            while d.counter.peek() < readings or len(d.queue):
                if d.counter.peek() < readings and not len(d.queue):
                    d.take_reading()
                for key, raw in d.queue.items():
                    try:
                        await d.process(key, d._unrecord(raw))
                    except Exception:
                        break
                await asyncio.sleep(0.3)
        await asyncio.gather(*(one(d) for d in others))

    _say(quiet, "node %s, concentrator, board (%s) on %s and %d in-process meters; %d readings each"
         % (node.url, runtime, pty, meters - 1, readings))
    t0 = time.time()
    driving = _LoopThread(drive)
    last = None
    try:
        while time.time() - t0 < timeout:
            board_v = (_results(board_root) or {}).get("verified", 0)
            total = board_v + sum(d._results()["verified"] for d in others)
            if total != last:
                last = total
                _say(quiet, "  %5.1fs  verified on the devices: %d/%d" % (time.time() - t0, total, meters * readings))
            if total >= meters * readings:
                break
            time.sleep(0.3)
        elapsed = time.time() - t0
    finally:
        driving.stop()
        serving.stop()
        board.stop()
        conc.flush()
        conc.stop()
        node.stop()
        native.__exit__(None, None, None)
    board_res = _results(board_root) or {"verified": 0, "rejected": 0}
    verified = board_res.get("verified", 0) + sum(d._results()["verified"] for d in others)
    rejected = board_res.get("rejected", 0) + sum(d._results()["rejected"] for d in others)
    chain = Chain(data_dir=os.path.join(tmp, "node"))
    txs = sum(len(chain.store.block_txs(n)) for n in range(1, chain.height() + 1))
    chain.store.close()
    summary = {"mode": "batch", "meters": meters, "board_runtime": runtime, "board_meters": 1,
               "in_process_meters": meters - 1, "readings": meters * readings,
               "verified_on_device": verified, "verified_on_board": board_res.get("verified", 0),
               "rejected_by_devices": rejected, "batches": len(conc.batches), "chain_txs": txs,
               "chain_tx_per_reading": round(txs / max(1, meters * readings), 4),
               "concentrator": "0x" + conc.address.hex(), "registry": "0x" + registry.ADDRESS.hex(),
               "seconds": round(elapsed, 2), "collected": "not in batch mode (the chain holds roots only)"}
    summary["ok"] = verified == meters * readings and rejected == 0
    shutil.rmtree(tmp, ignore_errors=True)
    return summary
