"""`lightmeter collector verify|export|serve`: work on a collector database."""

import argparse

from lightmeter_host.errors import UsageError


DB_HELP = ("the database: sqlite:///ABS/PATH.db or postgresql://... (also "
           "postgresql:///DBNAME?host=/socket/dir); default sqlite:///DATA/collector.db")


def db_args(p):
    p.add_argument("--db", metavar="URL", help=DB_HELP)
    p.add_argument("--data", metavar="DIR", help="data directory for the default database "
                                                 "(default ~/.local/share/lightmeter)")


def add_parser(sub):
    fmt = argparse.RawDescriptionHelpFormatter
    cg = sub.add_parser("collector", help="the collector's database: verify, export (and serve)",
                        description="Work on a collector database (lightmeter collect fills it).",
                        formatter_class=fmt)
    csub = cg.add_subparsers(dest="what", metavar="WHAT")
    csub.required = True
    cv = csub.add_parser("verify", help="re-verify every stored reading from its stored evidence alone",
                         description="Re-verify every stored reading offline (no node): the trust anchor is\n"
                                     "carried through the stored sealer-set changes, each re-proven; each\n"
                                     "reading's header quorum under the set in force, its transaction and\n"
                                     "receipt proofs, its signature and Reading log, and every column of the\n"
                                     "row against the signed reading. Names each bad row (id, meter_id, seq,\n"
                                     "the check that failed).\n\n"
                                     "Exit status: 0 all good, 1 something was tampered with, 2 usage or\n"
                                     "database error.",
                         formatter_class=fmt)
    db_args(cv)
    cv.add_argument("--trust", metavar="TRUST.json",
                    help="the trust checkpoint the collection started from; the stored anchor must be it")
    cv.add_argument("--fleet", metavar="FLEET.json|.csv",
                    help="also require each reading's device to be in this fleet manifest")
    cv.add_argument("--mark", action="store_true",
                    help="write the result to the readings' verified column")
    cv.add_argument("--pure", action="store_true", help="pure-Python crypto (default: native backends)")
    cv.add_argument("--json", action="store_true", help="print the report as one JSON object")
    ce = csub.add_parser("export", help="stored readings as CSV, JSON or SenML (RFC 8428)",
                         description="Write stored readings with their verification status. Times as ISO\n"
                                     "8601 (no zone: UTC) or milliseconds since the epoch, both inclusive.\n"
                                     "senml: RFC 8428 JSON, base name urn:dev:os:PEN-METER:, names the\n"
                                     "OBIS codes, kWh converted to Wh, times in seconds (bt + t), the\n"
                                     "status in the ignorable field lm_verified.",
                         epilog="example:\n  lightmeter collector export --db sqlite:///tmp/c.db --meter MTR-1 "
                                "--from 2026-01-01 --format senml",
                         formatter_class=fmt)
    db_args(ce)
    ce.add_argument("--meter", metavar="ID", help="only this meter")
    ce.add_argument("--from", dest="t_from", metavar="T", help="from this time (ISO 8601 or ms)")
    ce.add_argument("--to", dest="t_to", metavar="T", help="up to this time (ISO 8601 or ms)")
    ce.add_argument("--format", required=True, choices=("csv", "json", "senml"))
    ce.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")
    ce.add_argument("--pen", default="32473", metavar="N",
                    help="SenML: the IANA Private Enterprise Number in the base name (default 32473, "
                         "the documentation number)")
    cs = csub.add_parser("serve", help="a read-only web page of the fleet and each meter's readings",
                         description="Serve a web page over the collector's database: a fleet table (each\n"
                                     "meter's last reading, clock status, verified and rejected counts,\n"
                                     "gaps) and, per meter, its readings plotted over a chosen range (an\n"
                                     "energy register as its value and its consumption per interval).\n"
                                     "Needs no internet: uPlot comes from the project's node_modules.\n"
                                     "Only reads the database; a SQLite database must already exist.\n\n"
                                     "JSON API: GET /api/meters?offset=&limit=&q= (a page of the fleet),\n"
                                     "/api/summary, /api/meters/ID/readings?from=&to=&limit=,\n"
                                     "/api/meters/ID/plot?from=&to=&obis=&points= (times ISO 8601 or ms\n"
                                     "since the epoch, inclusive), /api/health; /metrics for Prometheus.\n"
                                     "Prints the address on stderr, then serves until Ctrl-C or SIGTERM.\n"
                                     "See docs/collector.md.\n\n"
                                     "Exit status: 0 stopped, 2 usage, no database, uPlot missing or\n"
                                     "address in use.",
                         epilog="example:\n  lightmeter collector serve --db sqlite:///var/lib/lightmeter/"
                                "collector.db --listen 0.0.0.0:8080",
                         formatter_class=fmt)
    db_args(cs)
    cs.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                    help="address to serve on (default 127.0.0.1:8080; port 0 picks a free one)")
    cs.add_argument("--quiet", action="store_true", help="no access log, warnings only")


def run(args):
    from lightmeter_host.collector import cmd
    if args.what == "verify":
        return cmd.verify(args)
    if args.what == "export":
        return cmd.export(args)
    return _serve(args)


def _serve(args):
    from lightmeter_host.collector import cmd, db, web

    try:
        host, port = web.parse_listen(args.listen)
        return web.serve(cmd.db_url(args), host, port, quiet=args.quiet)
    except (web.BadParameter, web.WebError) as e:
        raise UsageError(str(e))
    except db.DatabaseError as e:
        raise UsageError("database: %s" % e)
