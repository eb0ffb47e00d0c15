"""Write the firmware's precomputed generator tables (firmware/lightmeter/crypto/gtab_*.py).

    python -m lightmeter_host.gtables

Each table is what ec.Curve.g_tables builds on first use (width ec.G_WINDOW: the odd
multiples G, 3G, ..., 127G, affine, plus beta*x on secp256k1; SM2 also the same for
2**128*G, used to sign), packed as 32-byte big-endian integers in `bytes` constants of 16
entries each (ec.Chunked): kept in flash when the firmware is frozen, 32 bytes an entry in RAM
otherwise, in 512-byte pieces.
tests/firmware/test_gtables.py checks that the files match the computation.
"""

import os

from lightmeter.crypto import ec, ectables

FIRMWARE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware")
# curve module -> number of parts its tables cover (SM2 signs with two, see ec.Curve.mul_g)
CURVES = (("secp256k1", 1), ("sm2", 2))


CHUNK = 16 * 32  # bytes a piece of a column (ec.Chunked: 16 entries)


def columns(curve, parts):
    """[(xs, ys, bxs)] of bytes for the generator tables of curve with parts parts."""
    pts = ectables.shifted(curve, curve.g, parts, curve.shift(parts))
    out = []
    for q in pts:
        _, xs, ys, bxs = curve.table(q, ec.G_WINDOW)
        out.append(tuple(None if c is None else b"".join(v.to_bytes(32, "big") for v in c)
                         for c in (xs, ys, bxs)))
    return out


def _literal(b, indent):
    lines = []
    for i in range(0, len(b), 32):
        lines.append(indent + 'b"' + "".join("\\x%02x" % c for c in b[i:i + 32]) + '"')
    return "(\n" + "\n".join(lines) + "\n" + indent[4:] + ")"


def source(name, curve, parts):
    out = ['"""Precomputed generator tables of %s (width %d), written by lightmeter_host/gtables.py.' % (
        curve.name, ec.G_WINDOW), "",
           "COLUMNS: one (xs, ys, bxs) per part, read by ec.Curve (its gtab); each column is 64 entries of",
           "32-byte big-endian integers in pieces of 16 (ec.Chunked). Do not edit: regenerate,",
           "tests/firmware/test_gtables.py checks.",
           '"""', "", "COLUMNS = ("]
    for cols in columns(curve, parts):
        out.append("    (")
        for c in cols:
            if c is None:
                out.append("        None,")
                continue
            out.append("        (")
            for i in range(0, len(c), CHUNK):
                out.append("            " + _literal(c[i:i + CHUNK], " " * 16) + ",")
            out.append("        ),")
        out.append("    ),")
    out.append(")")
    return "\n".join(out) + "\n"


def path(name):
    return os.path.join(FIRMWARE, "lightmeter", "crypto", "gtab_%s.py" % name)


def main():
    import importlib
    for name, parts in CURVES:
        mod = importlib.import_module("lightmeter.crypto." + name)
        with open(path(name), "w") as f:
            f.write(source(name, mod.CURVE, parts))
        print(path(name))


if __name__ == "__main__":
    main()
