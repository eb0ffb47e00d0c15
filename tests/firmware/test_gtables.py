"""The precomputed generator tables (crypto/gtab_*.py) are exactly what ec.Curve builds."""

from lightmeter.crypto import ec, secp256k1, sm2


def _computed(curve, parts):
    fresh = ec.Curve(curve.name, curve.p, curve.a, curve.b, curve.n, curve.g[0], curve.g[1], curve.glv)
    return fresh.g_tables(parts)


def _check(curve, parts):
    preset = curve.g_tables(parts)
    computed = _computed(curve, parts)
    assert len(preset) == len(computed) == parts
    for (w1, xs1, ys1, bx1), (w2, xs2, ys2, bx2) in zip(preset, computed):
        assert w1 == w2 == ec.G_WINDOW
        assert isinstance(xs1, ec.Chunked) and len(xs1) == len(xs2) == 1 << (ec.G_WINDOW - 2)
        assert all(len(c) == 512 for c in xs1.chunks)  # no piece larger than 16 entries
        assert [xs1[j] for j in range(len(xs1))] == list(xs2)
        assert [ys1[j] for j in range(len(ys1))] == list(ys2)
        if bx2 is None:
            assert bx1 is None
        else:
            assert [bx1[j] for j in range(len(bx1))] == list(bx2)


def test_secp256k1_table_matches_the_computed_one():
    _check(secp256k1.CURVE, 1)


def test_sm2_tables_match_the_computed_ones():
    _check(sm2.CURVE, 1)
    _check(sm2.CURVE, 2)


def test_packed_indexing():
    col = ec.Packed(bytes(31) + b"\x01" + bytes(31) + b"\x02")
    assert len(col) == 2 and col[0] == 1 and col[1] == 2 and col[-1] == 2


def test_chunked_indexing_matches_one_packed_column():
    data = b"".join(i.to_bytes(32, "big") for i in range(1, 33))
    col = ec.Chunked((data[:512], data[512:]))
    flat = ec.Packed(data)
    assert len(col) == len(flat) == 32
    assert [col[j] for j in range(-32, 32)] == [flat[j] for j in range(-32, 32)]


def test_more_parts_are_still_built():
    t = secp256k1.CURVE.g_tables(2)
    one = secp256k1.CURVE.g_tables(1)[0]
    assert len(t) == 2 and [t[0][1][j] for j in range(4)] == [one[1][j] for j in range(4)]
    assert not isinstance(t[1][1], (ec.Packed, ec.Chunked))


def _same_point(curve, a, b):
    return curve.to_affine(a) == curve.to_affine(b)


def test_verify_without_the_table_module_uses_a_small_table_of_g():
    # A device that releases the tables' module (device/modules.py) verifies with G's small table:
    # the same sums as with the shipped tables; signing loads the module again.
    import sys
    for curve in (secp256k1.CURVE, sm2.CURVE):
        u1, u2 = curve.n - 12345, 0x1234567890ABCDEF1234567890ABCDEF
        pt = curve.to_affine(curve.mul_g(7))
        assert curve.gtab in sys.modules
        shipped = curve.mul_add(u1, u2, pt)
        mod = sys.modules.pop(curve.gtab)
        try:
            small = curve.mul_add(u1, u2, pt)
            assert curve.gtab not in sys.modules  # verifying does not load it
            assert curve._gsmall is not None and len(curve._gsmall[0][1]) == 1 << (ec.P_WINDOW - 2)
            assert _same_point(curve, small, shipped)
            assert _same_point(curve, curve.mul_g(7), curve.combine(curve.terms(7, [curve.table(curve.g, 5)])))
            assert curve.gtab in sys.modules  # signing (mul_g) imported it again
        finally:
            sys.modules[curve.gtab] = mod
