"""One do_<verb> function per `lightmeter` command (parsing lives in cli.py)."""

import json
import sys

from lightmeter.client import check
from lightmeter.errors import LightmeterError, Malformed


class UsageError(Exception):
    """Bad arguments or unreadable files: reported in one line, exit status 2."""


def _load_json(path):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except OSError as e:
        raise UsageError("cannot read %s: %s" % (path, e.strerror or e))
    except ValueError as e:
        raise UsageError("%s is not JSON: %s" % (path, e))


# Reports print in this key order whichever runtime built them (MicroPython's
# dicts do not keep insertion order).
_ORDER = ("valid", "reason", "number", "hash", "signers", "weight", "quorum",
          "receipt_hash", "tx_hash", "sender", "index")


def _emit(obj, reorder=True):
    if not reorder:
        print(json.dumps(obj, indent=2))
        return
    rank = {k: i for i, k in enumerate(_ORDER)}
    keys = sorted(obj, key=lambda k: (rank.get(k, len(rank)), k))
    print(json.dumps({k: obj[k] for k in keys}, indent=2))


def _malformed(e):
    _emit({"valid": False, "reason": "malformed: %s" % e})
    print("lightmeter: malformed input: %s" % e, file=sys.stderr)
    return 2


def run_check(name, inputs, runtime):
    """check.<name>(*inputs) on the chosen runtime; Malformed propagates on both."""
    if runtime == "micropython":
        from lightmeter_host.runtimes import mpcheck
        return mpcheck.run_check(name, inputs)
    from lightmeter_host.chain import backends
    backends.install()
    return getattr(check, name)(*inputs)


def do_verify(args):
    trust = _load_json(args.trust)
    if args.what == "header":
        name, inputs = "check_header", (_load_json(args.block), trust)
    elif args.what == "receipt":
        name, inputs = "check_receipt", (_load_json(args.receipt), _load_json(args.header), trust)
    else:
        name, inputs = "check_tx", (_load_json(args.tx), _load_json(args.header), trust)
    try:
        out = run_check(name, inputs, args.runtime)
    except Malformed as e:
        return _malformed(e)
    except LightmeterError as e:  # Unsupported
        return _malformed(e)
    _emit(out)
    return 0 if out["valid"] else 1


def do_decode(args):
    from lightmeter_host.chain import txdecode
    try:
        raw = txdecode.read_input(args.data)
        out = txdecode.describe(raw, args.crypto)
    except OSError as e:
        raise UsageError("cannot read %s: %s" % (args.data[1:], e.strerror or e))
    except LightmeterError as e:
        return _malformed(e)
    _emit(out, reorder=False)
    return 0 if out["signature_valid"] else 1


def do_trust(args):
    from lightmeter_host import relay
    from lightmeter_host.lightclient import trustinit
    from lightmeter.chain import fields

    if args.number is not None and args.number < 0:
        raise UsageError("--number must not be negative")
    if not args.rpc and not args.genesis:
        raise UsageError("trust init needs --rpc URL or --genesis FILE")
    if args.hash is not None and (not args.rpc or args.genesis or args.number is not None):
        raise UsageError("--hash needs --rpc, and goes with neither --genesis nor --number")
    if args.genesis and args.number is not None:
        raise UsageError("--genesis makes the checkpoint at block 0: --number does not apply")
    if args.version is not None and not args.genesis:
        raise UsageError("--version applies only with --genesis")
    digest = version = None
    if args.hash is not None:
        try:
            digest = fields.hexbytes(args.hash, "--hash", 32)
        except LightmeterError as e:
            raise UsageError("--hash must be 32 bytes of hex (0x optional): %s" % e)
    if args.version is not None:
        try:
            version = int(args.version, 0)
        except ValueError:
            raise UsageError("--version takes an integer such as 0x03030000, not %r" % args.version)
        if not 0 <= version <= 0x7FFFFFFF:
            raise UsageError("--version must be between 0 and 0x7fffffff")
    source, label = args.rpc, "Node"
    try:
        if args.genesis:
            try:
                with open(args.genesis, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise UsageError("cannot read %s: %s" % (args.genesis, e.strerror or e))
            info = trustinit.from_genesis(data, trustinit.GENESIS_VERSION if version is None else version)
            source, label = args.genesis, "Genesis"
            if args.rpc:
                trustinit.check_genesis_on_node(relay.Rpc(args.rpc, group=args.group_id), info)
                source = "%s (matches block 0 of %s)" % (args.genesis, args.rpc)
        elif digest is not None:
            info = trustinit.from_hash(relay.Rpc(args.rpc, group=args.group_id), digest)
        else:
            info = trustinit.fetch(relay.Rpc(args.rpc, group=args.group_id), args.number)
        obj = trustinit.to_json(info)
    except trustinit.TrustInitError as e:
        raise UsageError(str(e))
    except ConnectionError as e:
        raise UsageError("cannot reach the node at %s: %s" % (args.rpc, e))
    except relay.NodeError as e:
        raise UsageError("the node at %s answered an error: %s (%s)" % (args.rpc, e, e.code))
    except (LightmeterError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise UsageError("the node's answers are malformed: %s" % e)
    print(trustinit.describe(info, source, label), file=sys.stderr)
    if not args.yes:
        print("Trust this sealer set? [y/N] ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline()
        if not answer:
            print(file=sys.stderr)
            raise UsageError("no answer on stdin%s: confirm interactively or pass --yes"
                             % ("" if sys.stdin.isatty() else " (not a terminal)"))
        if answer.strip().lower() not in ("y", "yes"):
            print("lightmeter: not trusted; nothing written", file=sys.stderr)
            return 1
    text = trustinit.dumps(obj)
    if args.out:
        try:
            trustinit.write_atomic(args.out, text)
        except OSError as e:
            raise UsageError("cannot write %s: %s" % (args.out, e.strerror or e))
        print("lightmeter: wrote %s (block %d)" % (args.out, obj["number"]), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def do_bench(args):
    from lightmeter_host import bench
    return bench.main(quick=args.quick, as_json=args.json, node=args.node, link=args.link,
                      sync=args.sync, collector=args.collector)


def do_node(args):
    from lightmeter_host.node import server as node_server

    host, _, port = args.listen.rpartition(":")
    try:
        port = int(port)
    except ValueError:
        raise UsageError("--listen takes HOST:PORT, got %r" % args.listen)
    if args.sealers < 1 or args.sealers > 32:
        raise UsageError("--sealers must be between 1 and 32")
    if args.simulate < 0 or args.set_changes < 0:
        raise UsageError("--simulate and --set-changes must not be negative")
    if args.set_changes and not args.simulate:
        raise UsageError("--set-changes needs --simulate BLOCKS")
    return node_server.serve(crypto=args.crypto, chain_id=args.chain_id, group_id=args.group_id,
                             sealers=args.sealers, data_dir=args.data, host=host or "127.0.0.1",
                             port=port, seed=args.seed, sign_mode=args.faulty or args.sign,
                             verbose=args.verbose, simulate=args.simulate, set_changes=args.set_changes)


def do_relay(args):
    import serial

    from lightmeter_host import relay

    try:
        if args.batch:
            from lightmeter_host import concentrator
            return concentrator.main(args.port, args.rpc, args.baud, args.noise, args.batch_max,
                                     args.batch_ms, args.metrics)
        return relay.main(args.port, args.rpc, args.baud, args.noise)
    except serial.SerialException as e:
        raise UsageError("cannot open port: %s" % e)


def do_fleet(args):
    from lightmeter_host import fleetsim
    if args.meters < 1 or args.readings < 1 or args.concentrators < 1:
        raise UsageError("--meters, --readings and --concentrators must be at least 1")
    if args.batch_max < 1 or args.batch_ms < 1:
        raise UsageError("--batch-max and --batch-ms must be at least 1")
    return fleetsim.main(args.meters, args.readings, args.concentrators, args.crypto, args.json,
                         args.batch_max, args.batch_ms)


def do_board(args):
    from lightmeter_host.vboard import board
    if args.baud < 0:
        raise UsageError("--baud must be positive (0: no pacing)")
    flash_size = None
    if args.flash_size is not None:
        if not args.repl:
            raise UsageError("--flash-size applies to --repl only")
        text = args.flash_size.strip().upper()
        scale = {"K": 1024, "M": 1024 * 1024}.get(text[-1:], 1)
        digits = text[:-1] if scale > 1 else text
        if not digits.isdigit():
            raise UsageError("--flash-size wants bytes (K and M suffixes allowed), not %r" % args.flash_size)
        flash_size = int(digits) * scale
    if args.repl:
        if args.runtime != "micropython":
            raise UsageError("--repl needs --runtime micropython (the REPL is MicroPython's)")
        if args.path or args.module != "lightmeter.device.app":
            raise UsageError("--repl runs no device program: --module and --path do not apply")
    try:
        return board.serve(runtime=args.runtime, root=args.root, module=args.module, baud=args.baud or None,
                           paths=args.path, repl=args.repl, flash_size=flash_size,
                           transcript=args.transcript)
    except ValueError as e:
        raise UsageError(str(e))


def do_demo(args):
    if args.walkthrough:
        from lightmeter_host import walkthrough
        return walkthrough.main()
    if args.readings < 1:
        raise UsageError("--readings must be at least 1")
    if args.batch or args.meters != 1:
        if not args.batch or args.faults or args.data or args.meters < 1:
            raise UsageError("--meters needs --batch, and --batch takes no --faults or --data")
        import json as json_mod
        from lightmeter_host import demobatch
        summary = demobatch.run(args.meters, args.readings, args.runtime, args.crypto, quiet=args.json)
        if args.json:
            print(json_mod.dumps(summary))
        else:
            for k, v in summary.items():
                print("%-22s %s" % (k, v))
        return 0 if summary["ok"] else 1
    from lightmeter_host import demo
    try:
        return demo.main(args.readings, args.runtime, args.crypto, args.faults, args.json, args.data)
    except demo.DemoError as e:
        raise UsageError(str(e))


def do_sync(args):
    from lightmeter_host.lightclient import synccmd
    from lightmeter.client import trust as trust_mod

    obj = _load_json(args.trust)
    try:
        start = trust_mod.from_json(obj)
    except LightmeterError as e:
        raise UsageError("%s: %s" % (args.trust, e))
    if start.number is None or start.hash is None:
        raise UsageError("%s has no number and hash: sync needs a checkpoint at a block" % args.trust)
    if args.to is not None and args.to < start.number:
        raise UsageError("--to %d is below the checkpoint's block %d" % (args.to, start.number))
    run = synccmd.run_python if args.runtime == "python" else synccmd.run_micropython
    try:
        new, stats = run(obj, args.rpc, args.mode, args.to, quiet=False)
        witnesses = getattr(args, "witness", None) or []
        if witnesses:
            synccmd.cross_check(new, args.rpc, witnesses)
        if args.out:
            synccmd.write_checkpoint(args.out, new, start.number)
    except synccmd.SyncConflict as e:
        print("lightmeter: sync failed: %s; nothing written" % e, file=sys.stderr)
        evidence_path = getattr(args, "evidence", None)
        if evidence_path:
            try:
                with open(evidence_path, "w") as f:
                    json.dump(e.evidence, f, indent=2)
                    f.write("\n")
                print("lightmeter: wrote the evidence to %s" % evidence_path, file=sys.stderr)
            except OSError as err:
                print("lightmeter: cannot write %s: %s" % (evidence_path, err.strerror or err), file=sys.stderr)
        if args.json:
            print(json.dumps(e.evidence))
        else:
            sys.stdout.write(json.dumps(e.evidence, indent=2) + "\n")
        return 1
    except synccmd.SyncFailed as e:
        print("lightmeter: sync failed: %s; nothing written" % e, file=sys.stderr)
        return 1
    except synccmd.SyncUsage as e:
        raise UsageError(str(e))
    except OSError as e:
        raise UsageError("cannot write %s: %s" % (args.out, e.strerror or e))
    summary = {"number": new["number"], "hash": new["hash"], "headers": stats["headers"],
               "proofs": stats["proofs"], "bytes": stats["bytes"]}
    if args.json:
        print(json.dumps(summary))
    else:
        print("synced to block %d (%s): %d headers, %d set-change proofs, %d bytes fetched"
              % (summary["number"], summary["hash"], summary["headers"], summary["proofs"], summary["bytes"]),
              file=sys.stderr)
        if not args.out:
            sys.stdout.write(json.dumps(new, indent=2) + "\n")
    if args.out:
        print("lightmeter: wrote %s (block %d)" % (args.out, new["number"]), file=sys.stderr)
    return 0


def _profile(name):
    from lightmeter_host.hardware import boards
    try:
        return boards.load(name)
    except boards.BoardError as e:
        raise UsageError(str(e))


def _port(profile, port, dry_run=False):
    """The port given, or the one detected by the profile's USB ids (said on stderr)."""
    if port:
        return port
    from lightmeter_host.hardware import ports
    try:
        found, desc = ports.detect(profile)
    except ports.PortError as e:
        if dry_run:
            print("port: %s" % e)
            return "PORT"
        raise UsageError(str(e))
    print("port: %s (the only port with a USB id of board %s)" % (desc, profile["name"]), file=sys.stderr)
    return found


def do_boards(args):
    from lightmeter_host.hardware import boards
    try:
        profiles = [boards.load(n) for n in boards.known()]
    except boards.BoardError as e:
        raise UsageError(str(e))
    if getattr(args, "json", False):
        print(json.dumps({p["name"]: p for p in profiles}, indent=2))
    else:
        for p in profiles:
            print(boards.summary(p))
    return 0


def do_flash(args):
    from lightmeter_host.hardware import flash
    if args.list:
        args.json = False
        return do_boards(args)
    if not args.board:
        from lightmeter_host.hardware import boards
        raise UsageError("--board is required (known: %s)" % ", ".join(boards.known()))
    profile = _profile(args.board)
    if profile["runtime"] != "micropython":
        raise UsageError("board %s runs %s under Linux: install the package there (pip install .); "
                         "flash is for MicroPython boards" % (profile["name"], profile["runtime"]))
    if args.firmware and profile["firmware"]["method"] == "none":
        raise UsageError("board %s takes no MicroPython image" % profile["name"])
    if args.dry_run:
        print("board %s: %s" % (profile["name"], profile["description"]))
    elif args.firmware and profile["firmware"]["method"] == "uf2" and not args.port and not args.check:
        # in BOOTSEL mode a Pico has a drive but no serial port: copy the image, then find the port
        from lightmeter_host.hardware import ports
        flash.write_image(profile, None, args.firmware, print)
        try:
            port = flash.wait_for_port(profile)
        except ports.PortError as e:
            raise UsageError(str(e))
        flash.flash(profile, port, args.firmware, timeout=args.timeout, image_written=True)
        return 0
    port = _port(profile, args.port, args.dry_run)
    if args.dry_run:
        flash.dry_run(profile, port, args.firmware)
        return 0
    if args.check:
        from lightmeter_host.hardware import devrepl
        with devrepl.Repl(port, timeout=args.timeout) as repl:
            st, _ = flash.state(repl, profile)
        if st == "ok":
            print("flash complete: every file matches %s/%s" % (flash.package_dir(profile), flash.MANIFEST))
            return 0
        print("lightmeter: %s" % (flash.INCOMPLETE if st == "incomplete" else
                                  "the firmware is not on the board: run lightmeter flash"), file=sys.stderr)
        return 1
    flash.flash(profile, port, args.firmware, timeout=args.timeout)
    return 0


def do_provision(args):
    from lightmeter_host.hardware import provision
    profile = _profile(args.board) if args.board else None
    if not args.port and profile is None:
        raise UsageError("give --port, or --board to find the port by its USB ids")
    port = _port(profile, args.port) if profile is not None else args.port
    registry = args.registry
    if registry is None:
        from lightmeter_host.node import registry as node_registry
        registry = "0x" + node_registry.ADDRESS.hex()
    try:
        provision.provision(_profile, port, args.trust, args.meter_id, registry, args.fleet,
                            args.board, args.new_key, args.config_extra, timeout=args.timeout)
    except provision.ProvisionError as e:
        raise UsageError(str(e))
    return 0


def do_collect(args):
    from lightmeter_host.collector import cmd
    return cmd.collect(args)


def do_collector(args):
    from lightmeter_host.collector import cmd
    if args.what == "verify":
        return cmd.verify(args)
    if args.what == "export":
        return cmd.export(args)
    # `collector serve` (the web page): its function is _collector_serve(args), defined here.
    return globals()["_collector_" + args.what](args)


def _collector_serve(args):
    from lightmeter_host.collector import cmd, db, web

    try:
        host, port = web.parse_listen(args.listen)
        return web.serve(cmd.db_url(args), host, port, quiet=args.quiet)
    except (web.BadParameter, web.WebError) as e:
        raise UsageError(str(e))
    except db.DatabaseError as e:
        raise UsageError("database: %s" % e)
