"""The collector's commands behind `lightmeter collect` and `lightmeter collector verify|export`:
arguments in, one line per error, exit status out (verbs/collect.py and verbs/collector.py call these).
"""

import json
import os
import signal
import sys

from lightmeter.errors import Invalid, LightmeterError

from lightmeter_host.errors import CommandError, UsageError as _usage


def db_url(args):
    """--db, or sqlite:///<--data or ~/.local/share/lightmeter>/collector.db."""
    if args.db:
        return args.db
    data = args.data or os.path.join(os.path.expanduser("~"), ".local", "share", "lightmeter")
    return "sqlite://" + os.path.join(os.path.abspath(data), "collector.db")


def _open(args, write=False):
    """The existing collector database of --db, read-only unless write; never created or changed
    by opening (verify and export read what collect wrote)."""
    from lightmeter_host.collector import db
    try:
        return db.open_db(db_url(args), read_only=not write, create=False)
    except db.DatabaseError as e:
        raise _usage(str(e))


def _fleet(path):
    from lightmeter_host.hardware import fleet
    try:
        entries = fleet.load(path)
    except fleet.FleetError as e:
        raise _usage(str(e))
    except OSError as e:
        raise _usage("cannot read %s: %s" % (path, e.strerror or e))
    if not entries:
        raise _usage("%s: no such fleet manifest, or it lists no device" % path)
    return entries


def _trust(path):
    from lightmeter_host.inputs import load_json
    from lightmeter.client import trust as trust_mod
    obj = load_json(path)
    try:
        trust_mod.from_json(obj)
    except LightmeterError as e:
        raise _usage("%s: %s" % (path, e))
    return obj


def _metrics(listen):
    """A collector.metrics.Ingest served at HOST:PORT (port 0: a free one, printed on stderr)."""
    from lightmeter_host.collector import metrics as metrics_mod
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise _usage("--metrics takes HOST:PORT, got %r" % listen)
    m = metrics_mod.Ingest()
    try:
        got = m.serve(host.strip("[]") or "127.0.0.1", int(port))
    except OSError as e:
        raise _usage("cannot serve metrics on %s: %s" % (listen, e.strerror or e))
    print("collect: metrics at http://%s:%d/metrics" % (host.strip("[]") or "127.0.0.1", got),
          file=sys.stderr, flush=True)
    return m


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


def collect(args):
    from lightmeter_host.chain.rpc import NodeError
    from lightmeter_host.collector import db, ingest

    trust = _trust(args.trust)
    entries = _fleet(args.fleet)
    if args.interval <= 0:
        raise _usage("--interval must be positive")
    if not 1 <= args.parallel <= 64:
        raise _usage("--parallel must be 1 to 64")
    for name in ("from_block", "to_block"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise _usage("--%s must be a block number above 0" % name.split("_")[0])
    metrics = _metrics(args.metrics) if getattr(args, "metrics", None) else None
    block_range = None
    if getattr(args, "block_range", None):
        first, _, last = args.block_range.partition(":")
        if not (first.isdigit() and last.isdigit()) or not 1 <= int(first) <= int(last):
            raise _usage("--range takes FIRST:LAST, block numbers with 1 <= FIRST <= LAST")
        if args.from_block is not None or args.to_block is not None or args.follow:
            raise _usage("--range names its blocks itself: no --from, --to or --follow with it")
        block_range = (int(first), int(last))
    signal.signal(signal.SIGTERM, _interrupt)  # a service stop ends --follow like Ctrl-C, summary and all
    try:
        if block_range is not None:
            from lightmeter_host.collector import source
            out = ingest.collect_range(source.RpcSource(args.rpc), trust, entries, db_url(args), *block_range,
                                       batch_urls=args.batches or (), worker="pid %d" % os.getpid(),
                                       parallel=args.parallel, threads=args.threads, overlap=args.overlap)
        else:
            out = ingest.collect(args.rpc, trust, entries, db_url(args), from_block=args.from_block,
                                 to_block=args.to_block, follow=args.follow, interval=args.interval,
                                 pure=args.pure, progress=ingest.stderr_progress,
                                 batch_urls=args.batches or (), parallel=args.parallel, metrics=metrics,
                                 threads=args.threads, overlap=args.overlap)
    except ingest.CollectError as e:
        raise _usage(str(e))
    except db.DatabaseError as e:
        raise _usage("database: %s" % e)
    except ConnectionError as e:
        raise _usage("cannot reach the node at %s: %s" % (args.rpc, e))
    except NodeError as e:
        raise _usage("the node at %s answered an error: %s (%s)" % (args.rpc, e, e.code))
    except Invalid as e:  # syncing the checkpoint to --from failed a check
        raise CommandError("collect failed: %s; nothing stored" % e, status=1)
    except LightmeterError as e:
        raise _usage("the node's answers are malformed: %s" % e)
    finally:
        if metrics is not None:
            metrics.close()
    stopped = out.pop("stopped", None)
    if args.json:
        print(json.dumps(out))
    else:
        print("collected blocks %s to %s: %d readings, %d verified and stored, %d rejected, %d gaps, "
              "%d duplicates; %d batches stored, %d pending" % (out["from_block"], out["to_block"], out["readings"],
                                                  out["verified"], out["rejected"], out["gaps"], out["duplicates"],
                                                  out["batches"], out["batches_pending"]), file=sys.stderr)
    if stopped:
        print("lightmeter: collect stopped at block %d: the node lied (%s: %s); nothing of that block "
              "stored" % (stopped["block"], stopped["kind"], stopped["reason"]), file=sys.stderr)
        return 1
    return 0


def verify(args):
    from lightmeter_host.collector import db, reverify

    trust = _trust(args.trust) if args.trust else None
    entries = _fleet(args.fleet) if args.fleet else None
    database = _open(args, write=args.mark)
    try:
        report = reverify.verify_db(database, trust, entries, progress=reverify.stderr_progress, pure=args.pure)
        good = report.pop("good_ids")
        if args.mark:
            database.set_verified(good, True)
            database.set_verified([b["id"] for b in report["bad"]], False)
    except reverify.VerifyError as e:
        raise _usage(str(e))
    except db.DatabaseError as e:
        raise _usage("database: %s" % e)
    finally:
        database.close()
    if args.json:
        print(json.dumps(report))
    else:
        for p in report["problems"]:
            where = "checkpoint at block %d" % p["checkpoint"] if "checkpoint" in p else "trust anchor"
            print("BAD %s: %s: %s" % (where, p["check"], p["reason"]))
        for b in report["bad"]:
            print("BAD reading id %d (meter %s, seq %d): %s: %s" % (b["id"], b["meter_id"], b["seq"],
                                                                 b["check"], b["reason"]))
        print("%d readings: %d good, %d bad; %d sealer-set changes re-proven%s"
              % (report["readings"], report["good"], len(report["bad"]), report["checkpoints"],
                 "" if not report["problems"] else ", %d problems" % len(report["problems"])), file=sys.stderr)
    return 0 if report["ok"] else 1


def export(args):
    from lightmeter_host.collector import db, export as export_mod

    try:
        t_from = export_mod.parse_time(args.t_from) if args.t_from is not None else None
        t_to = export_mod.parse_time(args.t_to) if args.t_to is not None else None
    except export_mod.ExportError as e:
        raise _usage(str(e))
    if not args.pen.isdigit():
        raise _usage("--pen must be a decimal number")
    database = _open(args)
    try:
        if args.out:
            from lightmeter_host import outfile
            with outfile.Output(args.out) as out:
                n, left_out = export_mod.export(database, args.format, out, args.meter, t_from, t_to, args.pen)
        else:
            n, left_out = export_mod.export(database, args.format, sys.stdout, args.meter, t_from, t_to, args.pen)
    except export_mod.ExportError as e:
        raise _usage(str(e))
    except db.DatabaseError as e:
        raise _usage("database: %s" % e)
    except OSError as e:
        raise _usage("cannot write %s: %s" % (args.out, e.strerror or e))
    finally:
        database.close()
    if left_out:
        print("lightmeter: %d readings with a since-boot clock left out: SenML needs absolute times"
              % left_out, file=sys.stderr)
    if args.out:
        print("lightmeter: wrote %d records to %s" % (n, args.out), file=sys.stderr)
    return 0
