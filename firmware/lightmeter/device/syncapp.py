"""A device program that advances its trust checkpoint over the link (`lightmeter sync
--runtime micropython`): `run(uart, root)`, the virtual board's contract.

Reads root/trust.json (the checkpoint) and root/sync.json ({"mode": "strict" | "skipping",
"to": N or null, "timeout_ms", "retries"}), syncs with lightmeter.client.sync over get_header and
get_changes (proto/link.md), and writes root/result.json: {"trust": new checkpoint, "stats":
{"headers", "proofs", "bytes"}} or {"error": reason, "kind": "invalid" | "malformed" | "link"}.
trust.json itself is left alone: the host decides what to keep.
"""

import json

from lightmeter.link import session as link_mod
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import sync, trust as trust_mod
from lightmeter.errors import Invalid, LightmeterError, Malformed

PROGRESS_EVERY = 10  # headers between two progress lines in the log


def log(*args):
    import sys
    print("[sync]", *args, file=sys.stderr)


def _write(root, obj):
    path = root + "/result.json"
    with open(path + ".tmp", "w") as f:
        f.write(json.dumps(obj))
    import os
    try:
        os.remove(path)
    except OSError:
        pass
    os.rename(path + ".tmp", path)


async def run(uart, root):
    try:
        with open(root + "/trust.json") as f:
            trust = trust_mod.from_json(json.load(f))
        with open(root + "/sync.json") as f:
            cfg = json.load(f)
        suite = suite_mod.get(trust.crypto)
        lk = link_mod.Link(uart, cfg.get("timeout_ms", 3000), cfg.get("retries", 5))
        source = sync.LinkSource(lk, suite)

        def progress(n, target, stats):
            if stats["headers"] % PROGRESS_EVERY == 0 or n == target:
                log("at block %d of %d: %d headers, %d proofs" % (n, target, stats["headers"], stats["proofs"]))

        new, stats = await sync.sync(trust, suite, source, cfg.get("mode", "strict"), cfg.get("to"), progress)
        out = {"trust": new.to_json(), "stats": stats}
        log("done: block %d" % new.number)
    except Invalid as e:
        out = {"error": str(e), "kind": "invalid"}
    except (link_mod.LinkTimeout, link_mod.RemoteError) as e:
        out = {"error": str(e), "kind": "link"}
    except (Malformed, sync.SyncError, LightmeterError, ValueError, KeyError, OSError) as e:
        out = {"error": str(e) or repr(e), "kind": "malformed"}
    if "error" in out:
        log("failed:", out["error"])
    _write(root, out)
