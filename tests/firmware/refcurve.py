"""A plain reference for curve tests: affine double-and-add, slow and obviously right."""


def inverse(a, m):
    # Extended Euclid (MicroPython has no pow(a, -1, m); Fermat is 10x slower there).
    x0, x1, r0, r1 = 0, 1, m, a % m
    while r1:
        q = r0 // r1
        r0, r1, x0, x1 = r1, r0 - q * r1, x1, x0 - q * x1
    return x0 % m


def add(p1, p2, p, a):
    """p1 + p2 on y^2 = x^3 + a x + b over GF(p); None is the point at infinity."""
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    x1, y1 = p1
    x2, y2 = p2
    if x1 == x2:
        if (y1 + y2) % p == 0:
            return None
        lam = (3 * x1 * x1 + a) * inverse(2 * y1, p) % p
    else:
        lam = (y2 - y1) * inverse(x2 - x1, p) % p
    x3 = (lam * lam - x1 - x2) % p
    return (x3, (lam * (x1 - x3) - y1) % p)


def mul(k, pt, p, a):
    """k * pt by double-and-add."""
    acc = None
    while k > 0:
        if k & 1:
            acc = add(acc, pt, p, a)
        pt = add(pt, pt, p, a)
        k >>= 1
    return acc
