"""`lightmeter sync`: advance a trust checkpoint to the latest block (or --to N).

python: lightmeter.client.sync on CPython over the node's JSON-RPC (lightmeter_host.lightclient.syncsource).
micropython: the real device path: a virtual board runs lightmeter.device.syncapp on MicroPython and
the relay (in this process) answers its link requests from the node. Either way the new
checkpoint is written only after every check passed, atomically, and never over a newer one.
"""

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time

from lightmeter.chain import headerwrite
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import sync, trust as trust_mod
from lightmeter.errors import Invalid, LightmeterError, Malformed

PROGRESS_SECONDS = 1.0


class SyncFailed(Exception):
    """A check failed: exit 1."""


class SyncUsage(Exception):
    """Usage, malformed input or unreachable node: exit 2."""


def _progress(quiet):
    state = {"t": time.monotonic(), "shown": False}

    def show(n, target, stats):
        now = time.monotonic()
        if quiet or (now - state["t"] < PROGRESS_SECONDS and n != target):
            return
        if n == target and not state["shown"]:
            return  # short syncs stay silent
        state["t"], state["shown"] = now, True
        print("sync: block %d of %d (%d headers, %d proofs)" % (n, target, stats["headers"], stats["proofs"]),
              file=sys.stderr, flush=True)
    return show


@contextlib.contextmanager
def node_errors(rpc_url):
    """A node that cannot be reached, answers an error or answers nonsense: SyncUsage (exit 2).

    Invalid (a check failed) passes through: that is the caller's to report."""
    from lightmeter_host.chain.rpc import NodeError
    try:
        yield
    except Invalid:
        raise
    except ConnectionError as e:
        raise SyncUsage("cannot reach the node at %s: %s" % (rpc_url, e))
    except NodeError as e:
        raise SyncUsage("the node at %s answered an error: %s (%s)" % (rpc_url, e, e.code))
    except sync.SyncError:
        raise
    except (LightmeterError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise SyncUsage("the node's answers are malformed: %s" % e)


def run_python(trust_obj, rpc_url, mode, to, quiet=False):
    from lightmeter_host.chain import backends
    from lightmeter_host.chain.rpc import Rpc
    from lightmeter_host.lightclient import syncsource
    backends.install()
    trust = trust_mod.from_json(trust_obj)
    suite = suite_mod.get(trust.crypto)
    source = syncsource.RpcSource(Rpc(rpc_url), suite)
    try:
        with node_errors(rpc_url):
            new, stats = asyncio.run(sync.sync(trust, suite, source, mode, to, _progress(quiet)))
    except Invalid as e:
        raise SyncFailed(str(e))
    except sync.SyncError as e:
        raise SyncUsage(str(e))
    return new.to_json(), stats


def run_micropython(trust_obj, rpc_url, mode, to, quiet=False, timeout=3600, runtime="micropython"):
    from lightmeter_host import relay
    from lightmeter_host.chain.rpc import NodeError, Rpc
    from lightmeter_host.vboard.board import VirtualBoard

    trust_mod.from_json(trust_obj)  # refuse a malformed checkpoint here, in one line
    try:
        Rpc(rpc_url, timeout=10)("getBlockNumber")
    except ConnectionError as e:
        raise SyncUsage("cannot reach the node at %s: %s" % (rpc_url, e))
    except NodeError as e:
        raise SyncUsage("the node at %s answered an error: %s (%s)" % (rpc_url, e, e.code))
    tmp = tempfile.mkdtemp(prefix="lightmeter-sync-")
    try:
        with open(os.path.join(tmp, "trust.json"), "w") as f:
            json.dump(trust_obj, f)
        with open(os.path.join(tmp, "sync.json"), "w") as f:
            json.dump({"mode": mode, "to": to}, f)

        def on_log(line):
            if not quiet and line.startswith("[sync] at block"):
                print("sync: " + line[len("[sync] at "):], file=sys.stderr, flush=True)

        board = VirtualBoard(runtime=runtime, root=tmp, module="lightmeter.device.syncapp", baud=None,
                             on_log=on_log)
        pty = board.start()
        loop = asyncio.new_event_loop()
        task = loop.create_task(relay.relay([pty], rpc_url, log=lambda line: None))

        def serve():
            try:
                loop.run_until_complete(task)
            except (asyncio.CancelledError, Exception):
                pass

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        try:
            deadline = time.time() + timeout
            while board.alive and time.time() < deadline:
                time.sleep(0.1)
            if board.alive:
                raise SyncUsage("the board did not finish within %d s" % timeout)
        finally:
            loop.call_soon_threadsafe(task.cancel)
            t.join(5)
            board.stop()
        try:
            with open(os.path.join(tmp, "result.json")) as f:
                res = json.load(f)
        except (OSError, ValueError):
            tail = [l for l in board.log_lines() if not l.startswith("board: ")][-1:]
            raise SyncUsage("the board wrote no result%s" % (": " + tail[0] if tail else ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if "error" in res:
        if res.get("kind") == "invalid":
            raise SyncFailed(res["error"])
        raise SyncUsage(res["error"])
    return res["trust"], res["stats"]


def write_checkpoint(path, obj, start_number):
    """Write obj to path atomically unless path holds a newer checkpoint (SyncUsage then)."""
    from lightmeter_host.lightclient import trustinit
    if obj["number"] < start_number:
        raise SyncUsage("refusing to write block %d: the input checkpoint is at %d" % (obj["number"], start_number))
    old_n = None
    if os.path.isfile(path):  # a FIFO or device has no old checkpoint (and would block a read)
        try:
            with open(path) as f:
                old = json.load(f)
            old_n = old.get("number") if isinstance(old, dict) else None
        except (OSError, ValueError):
            old_n = None
    if isinstance(old_n, int) and old_n > obj["number"]:
        raise SyncUsage("%s holds block %d, newer than %d: not overwritten" % (path, old_n, obj["number"]))
    if old_n == obj["number"] and str(old.get("hash", "")).lower() != str(obj.get("hash", "")).lower():
        # Two checkpoints at one height: one of them is a fork. Keep the file; tell the operator.
        raise SyncFailed("%s holds another block %d (hash %s, synced %s): a conflict, not overwritten"
                         % (path, old_n, old.get("hash"), obj.get("hash")))
    trustinit.write_atomic(path, trustinit.dumps(obj))


class SyncConflict(SyncFailed):
    """A witness served another header at the synced height, signed by a quorum of the set that
    signs that height: two valid-looking headers at one height. `evidence` is the report object."""

    def __init__(self, message, evidence):
        super().__init__(message)
        self.evidence = evidence


def _fetch_header(rpc, n, suite):
    """(decoded Header, its recomputed hash) of block n from rpc."""
    from lightmeter.chain import header as header_mod
    h = header_mod.from_json(rpc("getBlockByNumber", n, True, True), suite.node_sig_len)
    if h.number != n:
        raise Malformed("asked for header %d, got header %d" % (n, h.number))
    return h, h.hash(suite)


def cross_check(new_obj, rpc_url, witnesses, warn=None, timeout=30):
    """Cross-check the synced checkpoint new_obj (its number N and hash H) against each witness URL.

    The primary's header N is fetched again and must hash to H (so its sealerList/weights are
    the set the sync verified for N). A witness whose header N hashes to H agrees. One with
    another hash is verified against that set (lightmeter.client.verify.verify_header): if it carries a
    valid quorum, SyncConflict is raised with both headers as evidence; if not, the witness is
    lying or broken and warn(message) is called. An unreachable witness, one behind N or with
    malformed answers: warn, no failure. Returns the number of witnesses that agreed.
    """
    from lightmeter_host.chain.rpc import NodeError, Rpc
    from lightmeter.chain import fields, header as header_mod
    from lightmeter.client import verify

    warn = warn or (lambda msg: print("lightmeter: warning: " + msg, file=sys.stderr, flush=True))
    if not witnesses:
        return 0
    new = trust_mod.from_json(new_obj)
    suite = suite_mod.get(new.crypto)
    n = new.number
    with node_errors(rpc_url):
        primary, p_hash = _fetch_header(Rpc(rpc_url, timeout=timeout), n, suite)
    if p_hash != new.hash:
        raise SyncFailed("the node at %s now serves another header at block %d than the one synced"
                         % (rpc_url, n))
    signing = trust_mod.Trust()
    signing.chain_id, signing.group_id, signing.crypto = new.chain_id, new.group_id, new.crypto
    signing.sealers = list(zip(primary.sealer_list, primary.weights))
    signing.number = signing.hash = None
    agreed = 0
    for url in witnesses:
        w = Rpc(url, timeout=timeout)
        try:
            head = w("getBlockNumber")
            if not isinstance(head, int) or isinstance(head, bool):
                raise Malformed("getBlockNumber: expected a number, got %r" % (head,))
            if head < n:
                warn("witness %s is behind: its latest block is %d, below %d; not cross-checked" % (url, head, n))
                continue
            wh, w_hash = _fetch_header(w, n, suite)
        except ConnectionError as e:
            warn("cannot reach witness %s: %s; not cross-checked" % (url, e))
            continue
        except NodeError as e:
            warn("witness %s answered an error: %s (%s); not cross-checked" % (url, e, e.code))
            continue
        except (LightmeterError, KeyError, TypeError, ValueError, AttributeError) as e:
            warn("witness %s answered malformed data: %s; not cross-checked" % (url, e))
            continue
        if w_hash == p_hash:
            agreed += 1
            continue
        if n == 0:
            warn("witness %s has another genesis block (%s): another chain, ignored" % (url, fields.hex0x(w_hash)))
            continue
        try:
            verify.verify_header(wh, signing, suite)
        except Invalid as e:
            warn("witness %s serves an invalid header at block %d (%s): lying or broken, ignored" % (url, n, e))
            continue
        evidence = {"conflict": True, "number": n, "headers": [fields.hex0x(p_hash), fields.hex0x(w_hash)],
                    "evidence": [headerwrite.to_json(primary, p_hash), headerwrite.to_json(wh, w_hash)],
                    "nodes": [rpc_url, url]}
        raise SyncConflict("conflict at block %d: %s serves %s, witness %s serves %s, both signed by a "
                           "quorum of the block's sealers" % (n, rpc_url, fields.hex0x(p_hash), url,
                                                              fields.hex0x(w_hash)), evidence)
    return agreed
