"""The page's queries at fleet size (docs/collector.md "The page at fleet size"): each request
reads what it shows, not the whole database.

- `page(db, offset, limit, q)`: one page of the fleet table, searched and ordered by meter id
  in SQL; each row's figures (last reading, verified, rejected, duplicates, gaps) counted for
  that page's meters only. Rows are those of db.meters(), which stays the whole-table reference.
- `summary(db)`: the fleet's totals, as the writers keep them (db.TOTALS): seven numbers read.
- `plot(db, meter_id, obis, t_from, t_to, points)`: one register's plottable readings in a time
  range, never more than `points` of them: past that, the range is cut into `points` equal
  time buckets and the last reading of each is returned with the bucket's count (SQL window
  functions), so differences between points stay the consumption over each bucket.

The meter ids come from the meters table (db.py: every meter the database names, kept as fleet
entries are stored), read in its key's order. SQLite (3.25 or later: window functions) and
PostgreSQL alike.
"""

import re

from lightmeter_host.collector.db import DUPLICATE_KINDS, READING_VIEW, TOTALS, ts_range

# a plotted reading's columns: db.readings()'s but verified, which sits after the evidence text
# in a row (reading it walks that text), and which a plot does not show
PLOT_VIEW = tuple(c for c in READING_VIEW if c != "verified")

# a meter matches a search by its id or one of its devices' addresses, anywhere, case folded
_MATCH = ("WHERE LOWER(meter_id) LIKE ? ESCAPE '!' OR meter_id IN "
          "(SELECT meter_id FROM devices WHERE LOWER(address) LIKE ? ESCAPE '!') ")

MAX_PAGE = 500
MAX_POINTS = 5000
ENERGY = re.compile(r"^\d+-\d+:\d+\.8\.\d+")  # OBIS value group D = 8: a time integral


def _like(q):
    """A LIKE pattern matching q anywhere, case folded; '!' escapes the wildcards."""
    q = q.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return "%" + q + "%"


def _blank(mid):
    return {"meter_id": mid, "address": None, "last_seq": None, "last_value": None, "last_unit": None,
            "last_obis": None, "last_ts": None, "last_clock": None, "verified": 0, "rejected": 0,
            "gaps": 0, "duplicates": 0}


def _in(ids):
    return "(%s)" % ", ".join("?" * len(ids))


def rows_for(db, ids):
    """db.meters()'s rows for these meter ids, in this order, each figure counted in SQL for
    them alone."""
    out = {mid: _blank(mid) for mid in ids}
    if not ids:
        return []
    ids = list(ids)
    for d in db.query("SELECT meter_id, address FROM devices WHERE meter_id IN %s ORDER BY address" % _in(ids),
                      ids):
        m = out[d["meter_id"]]
        m["address"] = m["address"] or d["address"]
    # each meter's last reading: one seek down readings_meter_seq per meter
    pick = " UNION ALL ".join("SELECT CAST(? AS TEXT) AS id" for _ in ids)
    for r in db.query(
            "SELECT meter_id, address, seq, value, unit, obis, ts, clock FROM readings WHERE id IN "
            "(SELECT (SELECT x.id FROM readings x WHERE x.meter_id = m.id ORDER BY x.seq DESC LIMIT 1) "
            "FROM (%s) AS m)" % pick, ids):
        out[r["meter_id"]].update(address=r["address"], last_seq=r["seq"], last_value=r["value"],
                                  last_unit=r["unit"], last_obis=r["obis"], last_ts=r["ts"],
                                  last_clock=r["clock"])
    for r in db.query("SELECT meter_id, COUNT(*) AS n FROM readings WHERE meter_id IN %s AND verified = ? "
                      "GROUP BY meter_id" % _in(ids), ids + [db._value("verified", True)]):
        out[r["meter_id"]]["verified"] = r["n"]
    for r in db.query("SELECT meter_id, kind, COUNT(*) AS n FROM rejections WHERE meter_id IN %s "
                      "GROUP BY meter_id, kind" % _in(ids), ids):
        out[r["meter_id"]]["duplicates" if r["kind"] in DUPLICATE_KINDS else "rejected"] += r["n"]
    for r in db.query("SELECT meter_id, COUNT(*) AS n FROM gaps WHERE meter_id IN %s GROUP BY meter_id"
                      % _in(ids), ids):
        out[r["meter_id"]]["gaps"] = r["n"]
    return [out[mid] for mid in ids]


def page(db, offset=0, limit=50, q=""):
    """{"total": meters matching q, "offset", "limit", "q", "meters": rows} ordered by meter id.

    q matches a meter id or one of its devices' addresses anywhere in it, case folded ("" all).
    The ids come from the meters table in its key's order (code points, as db.meters() sorts), so
    a page without a search reads offset + limit keys, not the fleet."""
    where, params = ("", []) if not q else (_MATCH, [_like(q), _like(q)])
    got = db.query("SELECT meter_id FROM meters " + where + "ORDER BY meter_id LIMIT ? OFFSET ?",
                   params + [int(limit), int(offset)])
    total = db.query("SELECT COUNT(*) AS n FROM meters " + where, params)[0]["n"]
    return {"total": int(total), "offset": offset, "limit": limit, "q": q,
            "meters": rows_for(db, [g["meter_id"] for g in got])}


def meter(db, meter_id):
    """db.meters()'s row of this meter, or None when nothing in the database names it."""
    known = db.query("SELECT 1 AS k FROM meters WHERE meter_id = ?", [meter_id])
    return rows_for(db, [meter_id])[0] if known else None


def summary(db):
    """The fleet's totals: meters, readings, verified, rejected (naming a meter, besides
    duplicates and replays), duplicates, gaps, problems (rejections naming no meter): the
    database's kept totals, in db.TOTALS' order: seven numbers read, not counted."""
    got = db.totals()
    return {k: got[k] for k in TOTALS}


# plottable: a wall-clock time (clock 2 is since boot) and a value (status bit 0: meter failure)
_PLOTTABLE = "clock <> 2 AND (status & 1) = 0"


def plot(db, meter_id, obis=None, t_from=None, t_to=None, points=1000):
    """One register's readings to plot, at most `points` (see the module docstring).

    {"obis": the register (obis, or the default: 1-0:1.8.0, else an energy register, else the
    one last read, else the first), "registers": [{"obis", "count"}] in the range, "count":
    plottable readings of obis in the range, "untimed", "failed": its readings left off,
    "bucket_ms": the bucket width or None (every reading returned), "first": the range's first
    plottable reading (consumption over the range is the last one's value minus its), "readings":
    rows of PLOT_VIEW plus "n" (readings the point stands for)}."""
    rng, rparams = ts_range(t_from, t_to)
    stats = db.query(
        "SELECT obis, COUNT(*) AS n, SUM(CASE WHEN (status & 1) = 1 THEN 1 ELSE 0 END) AS failed, "
        "SUM(CASE WHEN clock = 2 AND (status & 1) = 0 THEN 1 ELSE 0 END) AS untimed, "
        "MIN(CASE WHEN %s THEN ts END) AS lo, MAX(CASE WHEN %s THEN ts END) AS hi "
        "FROM readings WHERE meter_id = ?%s GROUP BY obis ORDER BY obis" % (_PLOTTABLE, _PLOTTABLE, rng),
        [meter_id] + rparams)
    by = {s["obis"]: s for s in stats}
    if obis is None:
        codes = sorted(by)
        last = db.query("SELECT obis FROM readings WHERE meter_id = ? ORDER BY seq DESC LIMIT 1", [meter_id])
        obis = ("1-0:1.8.0" if "1-0:1.8.0" in by else next((c for c in codes if ENERGY.match(c)), None)
                or (last[0]["obis"] if last and last[0]["obis"] in by else None) or (codes[0] if codes else None))
    s = by.get(obis)
    out = {"obis": obis, "registers": [{"obis": k["obis"], "count": int(k["n"])} for k in stats],
           "count": 0, "untimed": 0, "failed": 0, "bucket_ms": None, "first": None, "readings": []}
    if s is None:
        return out
    failed, untimed = int(s["failed"] or 0), int(s["untimed"] or 0)
    count = int(s["n"]) - failed - untimed
    out.update(count=count, untimed=untimed, failed=failed)
    cols = ", ".join(PLOT_VIEW)
    where = "meter_id = ? AND obis = ? AND %s%s" % (_PLOTTABLE, rng)
    params = [meter_id, obis] + rparams
    if count <= points:
        rows = db.query("SELECT %s, 1 AS n FROM readings WHERE %s ORDER BY ts, seq" % (cols, where), params)
    else:
        lo, hi = int(s["lo"]), int(s["hi"])
        width = -(-(hi - lo + 1) // points)
        bucket = "(ts - CAST(? AS BIGINT)) / CAST(? AS BIGINT)"
        # the buckets from the readings_plot index alone; the picked rows are read for those alone
        rows = db.query(
            "SELECT %s, b.n AS n FROM readings JOIN (SELECT id AS bid, COUNT(*) OVER (PARTITION BY %s) AS n, "
            "ROW_NUMBER() OVER (PARTITION BY %s ORDER BY ts DESC, seq DESC) AS k FROM readings WHERE %s) AS b "
            "ON readings.id = b.bid WHERE b.k = 1 ORDER BY ts, seq"
            % (", ".join("readings." + c for c in PLOT_VIEW), bucket, bucket, where),
            [lo, width, lo, width] + params)
        out["bucket_ms"] = width
    for r in rows:
        r["n"] = int(r["n"])
    out["readings"] = rows
    if rows:
        first = rows[0] if out["bucket_ms"] is None else db.query(
            "SELECT %s, 1 AS n FROM readings WHERE %s ORDER BY ts, seq LIMIT 1" % (cols, where), params)[0]
        out["first"] = dict(first, n=int(first["n"]))
    return out
