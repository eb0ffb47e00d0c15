"""Provisioning on the device: install config.json and trust.json, make or keep the device key.

`lightmeter provision` (lightmeter_host/hardware/provision.py) calls `run` over the board's REPL. Everything the
host sends (the config and trust texts) is checked here again before anything is written; what
goes back is only the public key and the address. The private key is made here from the board's
own entropy (lightmeter.device.devkey) and never printed.

Files are replaced atomically: written to NAME.tmp, then renamed over NAME (a rename replaces its
target in one step on littlefs and POSIX; a leftover .tmp is removed by the store on its next
open of the directory).
"""

import json
import os

from lightmeter.device import checkpoint, devkey, store as store_mod
from lightmeter.chain import fields
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import trust as trust_mod
from lightmeter.errors import Malformed

CONFIG = "config.json"
TRUST = "trust.json"


def put(path, data):
    """Replace the file at path with data (bytes) atomically."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
        os.rename(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    sync = getattr(os, "sync", None)  # MicroPython ports with it: commit to flash now
    if sync is not None:
        sync()


def check_config(cfg):
    """The config object if it is one a device can run with; Malformed naming the field if not."""
    if not isinstance(cfg, dict):
        raise Malformed("config: expected a JSON object")
    mid = cfg.get("meter_id")
    if not isinstance(mid, str) or not mid or len(mid.encode()) > 64:
        raise Malformed("config.meter_id: expected 1 to 64 bytes of text")
    fields.hexbytes(cfg.get("registry"), "config.registry", 20, True)
    meter = cfg.get("meter")
    if not isinstance(meter, dict) or not isinstance(meter.get("driver"), str):
        raise Malformed("config.meter: expected an object with a driver name")
    return cfg


def run(root, config, trust, new_key=False, rand=None):
    """Install config (bytes of JSON) and trust (bytes of TRUST.json) in root and make sure the
    device has a key; returns {"public_key", "address", "suite", "created"} (hex text)."""
    cfg = check_config(json.loads(config))
    t = trust_mod.from_json(json.loads(trust))
    suite = suite_mod.get(t.crypto)
    store = store_mod.Store(root)
    try:
        current = checkpoint.load(store)
    except (ValueError, Malformed):
        current = None
        store_mod.Blob(store, checkpoint.NAME).clear()
    if current is not None and (current.chain_id, current.group_id, current.crypto) != (
            t.chain_id, t.group_id, t.crypto):
        # Another chain: the checkpoint the device kept is not about this one; the new trust.json
        # is installed at the next start. Same chain: a newer stored checkpoint stays.
        store_mod.Blob(store, checkpoint.NAME).clear()
    put(store.path(CONFIG), json.dumps(cfg).encode())
    put(store.path(TRUST), json.dumps(t.to_json()).encode())
    _, pub, created = devkey.ensure(store, suite, new_key, rand)
    return {"public_key": fields.hex0x(pub), "address": fields.hex0x(suite.address(pub)),
            "suite": suite.name, "created": created}
