"""`lightmeter provision`: give a flashed board its identity, trust checkpoint and key.

Order matters: everything the host can check is checked before the board is touched (the trust
file with the firmware's own strict parser, the meter id, the registry address, the extra config,
the fleet manifest); then, over the board's REPL, the firmware is checked to be completely flashed
(lightmeter.flash.state) and lightmeter.device.provision.run is called on the board. It writes
config.json and trust.json atomically in the board's storage root, makes the key there from the
board's own entropy unless it has one (kept unless --new-key), and prints back only the public key
and the address. The host checks that the address is the one the public key derives from, then
adds the device to the fleet manifest (lightmeter_host/hardware/fleet.py).
"""

import datetime
import json

from lightmeter_host.hardware import devrepl, fleet, flash as flash_mod
from lightmeter.chain import fields
from lightmeter.crypto import suite as suite_mod
from lightmeter.client import trust as trust_mod
from lightmeter.errors import LightmeterError

RESERVED = ("meter_id", "registry", "meter")


class ProvisionError(ValueError):
    """Bad input, found before anything is written to the board."""


def read_trust(path):
    """(TRUST.json text as bytes, Trust): strictly parsed, as the device will parse it."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ProvisionError("cannot read %s: %s" % (path, e.strerror or e)) from None
    try:
        t = trust_mod.from_json(json.loads(raw))
    except ValueError as e:  # JSON syntax
        raise ProvisionError("%s is not a trust checkpoint: not JSON (%s)" % (path, e)) from None
    except LightmeterError as e:
        raise ProvisionError("%s is not a trust checkpoint: %s" % (path, e)) from None
    return raw, t


def build_config(profile, meter_id, registry, extra=None):
    """The device's config.json object: identity, registry and the meter driver from the profile,
    plus extra settings (a JSON object text) that may not replace those."""
    if not isinstance(meter_id, str) or not meter_id or len(meter_id.encode()) > 64:
        raise ProvisionError("--meter-id must be 1 to 64 bytes of text")
    try:
        reg = fields.hexbytes(registry, "--registry", 20, True)
    except LightmeterError:
        raise ProvisionError("--registry must be 0x and 40 hex digits (the MeterRegistry address)") from None
    cfg = {"meter_id": meter_id, "registry": fields.hex0x(reg), "board": profile["name"],
           "meter": dict(profile["meter"]), "link": dict(profile["link"])}
    if extra:
        try:
            more = json.loads(extra)
        except ValueError as e:
            raise ProvisionError("--config-extra is not JSON: %s" % e) from None
        if not isinstance(more, dict):
            raise ProvisionError("--config-extra must be a JSON object")
        clash = sorted(k for k in more if k in RESERVED or k in ("board", "link"))
        if clash:
            raise ProvisionError("--config-extra may not set %s (use --meter-id / --registry / "
                                 "the board profile)" % ", ".join(clash))
        cfg.update(more)
    return cfg


_RUN = """
import sys, json
if %r not in sys.path:
    sys.path.append(%r)
from lightmeter.device import provision
r = provision.run(%r, %r, %r, %r)
print(json.dumps({'public_key': r['public_key'], 'address': r['address'], 'suite': r['suite'],
                  'created': r['created']}))
"""


def device_answer(answer, suite_name):
    """(public key bytes, address bytes) from what the board printed, checked: the address must be
    the one the public key derives from under the suite."""
    try:
        pub = fields.hexbytes(answer["public_key"], "public_key", 64, True)
        addr = fields.hexbytes(answer["address"], "address", 20, True)
    except (KeyError, TypeError, LightmeterError) as e:
        raise devrepl.DeviceError("device: malformed provisioning answer (%s)" % e) from None
    if answer.get("suite") != suite_name:
        raise devrepl.DeviceError("device: made a key for suite %r, not %r" % (answer.get("suite"), suite_name))
    if suite_mod.get(suite_name).address(pub) != addr:
        raise devrepl.DeviceError("device: address %s is not the address of its public key"
                                  % answer["address"])
    return pub, addr


def provision(profile_for, port, trust_path, meter_id, registry, fleet_path=None, board=None,
              new_key=False, config_extra=None, say=print, timeout=5.0, baud=115200):
    """Provision the board on port; returns the fleet entry. profile_for(name) loads a profile."""
    trust_raw, trust = read_trust(trust_path)
    profile = profile_for(board) if board else None
    if profile is not None:
        build_config(profile, meter_id, registry, config_extra)  # input errors before the board
    if fleet_path:
        try:
            fleet.writable(fleet_path)
            fleet.load(fleet_path)
        except (fleet.FleetError, OSError) as e:
            raise ProvisionError(str(e)) from None
    with devrepl.Repl(port, timeout=timeout, baud=baud) as repl:
        if profile is None:
            # the board was flashed as some profile: read it from the flash manifest
            probe = {"storage": {"lib": "/lib"}, "name": "?"}
            man = flash_mod.require_flashed(repl, probe)
            name = man.get("board") if isinstance(man, dict) else None
            if not isinstance(name, str):
                raise ProvisionError("the board's flash manifest names no board: pass --board")
            profile = profile_for(name)
            say("board profile %s (from the flash manifest)" % name)
        else:
            man = flash_mod.require_flashed(repl, profile)
            if isinstance(man, dict) and man.get("board") not in (None, profile["name"]):
                raise ProvisionError("the board was flashed as %s, not %s: flash it again or "
                                     "pass --board %s" % (man["board"], profile["name"], man["board"]))
        cfg = build_config(profile, meter_id, registry, config_extra)
        root = profile["storage"]["root"]
        lib = profile["storage"]["lib"]
        say("writing %s/config.json and %s/trust.json (chain %s, group %s, %s)"
            % (root, root, trust.chain_id, trust.group_id, trust.crypto))
        answer = repl.run_json(_RUN % (lib, lib, root, json.dumps(cfg).encode(), trust_raw, bool(new_key)),
                               timeout=120)
    pub, addr = device_answer(answer, trust.crypto)
    say("device key: %s" % ("new, made on the board from its own entropy" if answer.get("created")
                            else "kept (the one the board already had)"))
    entry = {"meter_id": meter_id, "address": fields.hex0x(addr), "public_key": fields.hex0x(pub),
             "suite": trust.crypto, "board": profile["name"], "chain_id": trust.chain_id,
             "group_id": trust.group_id, "registry": cfg["registry"],
             "provisioned_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    try:
        entry = fleet.check(entry, "device answer")
    except fleet.FleetError as e:
        raise devrepl.DeviceError(str(e)) from None
    if fleet_path:
        fleet.add(fleet_path, entry)
    say("provisioned %s on %s" % (meter_id, port))
    say("  address     %s" % entry["address"])
    say("  public key  %s" % entry["public_key"])
    say("  board       %s, chain %s / %s (%s), registry %s"
        % (entry["board"], entry["chain_id"], entry["group_id"], entry["suite"], entry["registry"]))
    if fleet_path:
        say("  fleet       added to %s" % fleet_path)
    return entry
