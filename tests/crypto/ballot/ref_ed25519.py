"""An independent, slow edwards25519 for tests only: RFC 8032 section 6 arithmetic.

Point arithmetic, (de)compression and the base point follow the Python reference code of
RFC 8032 section 6 (extended coordinates, the "add-2008-hwcd-3" formulas); ``elligator2``
is written from the Elligator 2 formulas (Bernstein, Hamburg, Krasnova, Lange 2013;
RFC 9380 section 6.7.1) with libsodium's conventions for ``from_uniform`` (top bit = sign
of x, then multiply by the cofactor).  None of it shares code with libsodium, so agreement
byte for byte is evidence that our use of libsodium computes what we think it computes.
Not constant time; never use outside tests.
"""

from __future__ import annotations

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
A = 486662  # Montgomery coefficient of curve25519

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z


def inv(x: int) -> int:
    return pow(x, P - 2, P)


D = -121665 * inv(121666) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY: Point = (0, 1, 1, 0)


def add(p: Point, q: Point) -> Point:
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = 2 * p[3] * q[3] * D % P
    d = 2 * p[2] * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def neg(p: Point) -> Point:
    return (-p[0] % P, p[1], p[2], -p[3] % P)


def mul(s: int, p: Point) -> Point:
    q = IDENTITY
    while s > 0:
        if s & 1:
            q = add(q, p)
        p = add(p, p)
        s >>= 1
    return q


def equal(p: Point, q: Point) -> bool:
    return (p[0] * q[2] - q[0] * p[2]) % P == 0 and (p[1] * q[2] - q[1] * p[2]) % P == 0


def recover_x(y: int, sign: int) -> int | None:
    if y >= P:
        return None
    x2 = (y * y - 1) * inv(D * y * y + 1) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


G_Y = 4 * inv(5) % P
_G_X = recover_x(G_Y, 0)
assert _G_X is not None
G: Point = (_G_X, G_Y, 1, _G_X * G_Y % P)


def compress(p: Point) -> bytes:
    z_inv = inv(p[2])
    x = p[0] * z_inv % P
    y = p[1] * z_inv % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def decompress(data: bytes) -> Point | None:
    """RFC 8032 decoding; ``None`` for y >= p, no square root, or x = 0 with the sign set."""
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def elligator2(uniform: bytes) -> bytes:
    """libsodium's ``crypto_core_ed25519_from_uniform``, written from the formulas."""
    sign = uniform[31] >> 7
    r = int.from_bytes(uniform[:31] + bytes((uniform[31] & 0x7F,)), "little") % P
    # Elligator 2 on v^2 = u^3 + A u^2 + u with the non-square 2.
    u = -A * inv(1 + 2 * r * r) % P
    curve = (u * u * u + A * u * u + u) % P
    if pow(curve, (P - 1) // 2, P) == P - 1:  # not a square: take the other root
        u = (-u - A) % P
    # Birational map to edwards25519 (y only), then x from the sign bit.
    y = (u - 1) * inv(u + 1) % P
    x = recover_x(y, sign)
    if x is None:  # only for y = +-1, where x = 0 and the sign bit is set
        x = 0
    point = (x, y, 1, x * y % P)
    return compress(mul(8, point))


def torsion_points() -> list[bytes]:
    """The 8 points of order dividing 8 (from a point of order 8), encoded."""
    for y in range(2, 1000):
        full = decompress(y.to_bytes(32, "little"))
        if full is None:
            continue
        t = mul(L, full)  # kills the prime-order part: t has order dividing 8
        if not equal(mul(4, t), IDENTITY):
            return [compress(mul(k, t)) for k in range(8)]
    raise RuntimeError("no point of order 8 found")
