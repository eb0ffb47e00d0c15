"""Native crypto for the host, swapped into the firmware's suites at one seam.

On CPython the pure-Python primitives of the firmware are the reference; for
speed the host may replace them with coincurve (libsecp256k1), pycryptodome
(keccak256) and OpenSSL (SM3, through hashlib). Each replacement keeps the
pure function's contract, including its rules (65-byte signatures: recovery id
0..3, any s in [1, n-1], as FISCO; 64-byte: low s; typed errors), and tests/host/test_backends.py checks them against each other.
SM2 stays pure: no native SM2 on PyPI is faster than ours.
"""

import hashlib

from lightmeter.crypto import suite as suite_mod
from lightmeter.errors import Invalid, Malformed

_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = _N // 2


def native_keccak256():
    from Crypto.Hash import keccak

    def keccak256(data):
        return keccak.new(digest_bits=256, data=bytes(data)).digest()

    try:
        lean = _lean_keccak256()
        if lean(b"") == keccak256(b"") and lean(b"abc" * 100) == keccak256(b"abc" * 100):
            return lean
    except (ImportError, AttributeError, TypeError, ValueError):
        pass  # a pycryptodome without these entry points: its public interface
    return keccak256


def _lean_keccak256():
    """pycryptodome's Keccak core called directly, with one state per thread reset for each hash
    instead of a hash object made and freed: a third of the time per call, which counts where a
    collector hashes four times per batch reading."""
    import threading

    from Crypto.Hash.keccak import _raw_keccak_lib as lib
    from Crypto.Util._raw_api import VoidPointer, c_size_t, c_ubyte, create_string_buffer, get_raw_buffer

    local = threading.local()

    def keccak256(data):
        s = getattr(local, "s", None)
        if s is None:
            p = VoidPointer()
            if lib.keccak_init(p.address_of(), c_size_t(64), c_ubyte(24)):
                raise ValueError("keccak_init failed")
            s = local.s = (p, p.get(), create_string_buffer(32))
        data = bytes(data)
        if lib.keccak_reset(s[1]) or lib.keccak_absorb(s[1], data, len(data)) or \
                lib.keccak_digest(s[1], s[2], 32, 1):
            raise ValueError("keccak failed")
        return get_raw_buffer(s[2])

    return keccak256


def native_sm3():
    hashlib.new("sm3")  # raises ValueError where OpenSSL lacks SM3

    def sm3(data):
        return hashlib.new("sm3", bytes(data)).digest()

    return sm3


_N_BYTES = _N.to_bytes(32, "big")
_HALF_N_END = (_HALF_N + 1).to_bytes(32, "big")
_ZERO32 = bytes(32)


def _check_rs(sig):
    # 65 bytes (r, s, v): any s, as FISCO's recovery; 64 bytes (r, s): low s, as secp256k1_ecdsa_verify.
    # 32-byte big-endian strings compare as the numbers they encode.
    r, s = bytes(sig[:32]), bytes(sig[32:64])
    return _ZERO32 < r < _N_BYTES and _ZERO32 < s < (_N_BYTES if len(sig) == 65 else _HALF_N_END)


def _lean_recover():
    """libsecp256k1's recovery called through coincurve's cffi handle directly, with one set of
    output buffers per thread: no PublicKey object made and serialized per call (a collector
    recovers one key per batch reading; bench/RESULTS.md)."""
    import threading

    import coincurve
    from coincurve._libsecp256k1 import ffi, lib

    ctx = coincurve.context.GLOBAL_CONTEXT.ctx
    flag = lib.SECP256K1_EC_UNCOMPRESSED
    local = threading.local()

    def recover(digest, sig):
        b = getattr(local, "b", None)
        if b is None:
            b = local.b = (ffi.new("secp256k1_ecdsa_recoverable_signature *"), ffi.new("secp256k1_pubkey *"),
                           ffi.new("unsigned char[65]"), ffi.new("size_t *"))
        rsig, pub, out, size = b
        if not (lib.secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, rsig, sig, sig[64])
                and lib.secp256k1_ecdsa_recover(ctx, pub, rsig, digest)):
            return None
        size[0] = 65
        lib.secp256k1_ec_pubkey_serialize(ctx, out, size, pub, flag)
        return ffi.buffer(out, 65)[1:]

    return recover


def native_secp256k1():
    import coincurve
    from coincurve.ecdsa import cdata_to_der, deserialize_compact

    lean = _lean_recover()

    def recover(digest, sig):
        if len(digest) != 32 or len(sig) != 65:
            raise Malformed("recover: expected a 32-byte hash and a 65-byte signature")
        if sig[64] > 3:
            raise Invalid("recovery id must be 0..3")
        if not _check_rs(sig):
            raise Invalid("signature r or s out of range [1, n-1]")
        pub = lean(bytes(digest), bytes(sig))
        if pub is None:
            raise Invalid("no public key recovers from this signature")
        return pub

    def verify(pub, digest, sig):
        if len(pub) != 64 or len(digest) != 32 or len(sig) not in (64, 65):
            raise Malformed("verify: expected 64-byte key, 32-byte hash, 64/65-byte signature")
        if not _check_rs(sig):
            return False
        if len(sig) == 65:
            # A recovery id is part of the signature: it must recover this key.
            try:
                return recover(digest, sig) == bytes(pub)
            except Invalid:
                return False
        try:
            key = coincurve.PublicKey(b"\x04" + bytes(pub))
        except Exception:
            raise Malformed("public key is not a point of secp256k1")
        return key.verify(cdata_to_der(deserialize_compact(bytes(sig[:64]))), bytes(digest), hasher=None)

    return recover, verify


def native_secp256k1_signing():
    """(public_key, sign) with libsecp256k1: the same RFC 6979 nonce, low s and recovery id as the
    pure `lightmeter.crypto.secp256k1`, so the same bytes (tests/host/test_backends.py)."""
    import coincurve

    def public_key(priv32):
        try:
            return coincurve.PrivateKey(bytes(priv32)).public_key.format(compressed=False)[1:]
        except Exception:
            raise Invalid("private key out of range")

    def sign(priv32, hash32):
        if len(hash32) != 32:
            raise Malformed("sign: expected a 32-byte hash")
        try:
            return coincurve.PrivateKey(bytes(priv32)).sign_recoverable(bytes(hash32), hasher=None)
        except Exception:
            raise Invalid("private key out of range")

    return public_key, sign


def install_signing():
    """Also swap secp256k1 key derivation and signing (for many simulated devices in one
    process, lightmeter_host.fleetsim); uninstall_signing puts the pure ones back."""
    try:
        public_key, sign = native_secp256k1_signing()
    except ImportError:
        return []
    e = suite_mod.get("ecdsa")
    e.public_key = public_key
    e.sign_tx = sign  # an instance attribute: shadows Suite.sign_tx (ecdsa's layout is r||s||v)
    e.sign_node = sign
    return ["secp256k1-sign:coincurve"]


def uninstall_signing():
    e = suite_mod.get("ecdsa")
    e.public_key = e._curve.public_key
    for name in ("sign_tx", "sign_node"):
        e.__dict__.pop(name, None)


_saved = None


def install():
    """Swap native primitives into both suites; returns the names of what was swapped."""
    global _saved
    done = []
    e = suite_mod.get("ecdsa")
    s = suite_mod.get("sm")
    if _saved is None:
        _saved = (e.hash, e.recover, e.verify, s.hash)
    try:
        e.hash = native_keccak256()
        done.append("keccak256:pycryptodome")
    except ImportError:
        pass
    try:
        e.recover, e.verify = native_secp256k1()
        done.append("secp256k1:coincurve")
    except ImportError:
        pass
    try:
        s.hash = native_sm3()
        done.append("sm3:openssl")
    except ValueError:
        pass
    return done


def installed():
    """Whether the native primitives are in the suites now (install() without uninstall())."""
    return _saved is not None


def uninstall():
    """Put the pure primitives back."""
    global _saved
    if _saved is None:
        return
    e = suite_mod.get("ecdsa")
    s = suite_mod.get("sm")
    e.hash, e.recover, e.verify, s.hash = _saved
    _saved = None
