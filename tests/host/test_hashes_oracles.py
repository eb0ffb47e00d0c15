"""The firmware's pure-Python Keccak-256 and SM3 against native implementations.

CPython only. Oracles: pycryptodome's Keccak (Crypto.Hash.keccak, digest_bits=256,
the original 0x01 padding) and OpenSSL's SM3 through hashlib.new("sm3").
"""

import hashlib

from Crypto.Hash import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from lightmeter.crypto.keccak import Keccak256, keccak256
from lightmeter.crypto.sm3 import SM3, sm3


def _oracle_keccak256(data):
    return keccak.new(digest_bits=256, data=data).digest()


def _oracle_sm3(data):
    return hashlib.new("sm3", data).digest()


# Lengths up to a few blocks of either hash, biased towards the block edges.
_data = st.one_of(
    st.binary(max_size=600),
    st.integers(min_value=0, max_value=4).flatmap(
        lambda k: st.sampled_from((136 * k, 64 * k)).flatmap(
            lambda edge: st.integers(min_value=max(0, edge - 9), max_value=edge + 9)
        )
    ).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
)


@st.composite
def _chunked(draw):
    """Data and a list of cut points that split it into update() pieces."""
    data = draw(_data)
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=len(data)), max_size=8)))
    return data, cuts


def _pieces(data, cuts):
    view = memoryview(data)
    start = 0
    for cut in cuts + [len(data)]:
        yield view[start:cut]
        start = cut


@settings(max_examples=300, deadline=None)
@given(_data)
def test_keccak256_matches_pycryptodome(data):
    assert keccak256(data) == _oracle_keccak256(data)


@settings(max_examples=300, deadline=None)
@given(_data)
def test_sm3_matches_openssl(data):
    assert sm3(data) == _oracle_sm3(data)


@settings(max_examples=200, deadline=None)
@given(_chunked())
def test_keccak256_any_chunking_matches_pycryptodome(chunked):
    data, cuts = chunked
    h = Keccak256()
    for piece in _pieces(data, cuts):
        h.update(piece)
    assert h.digest() == _oracle_keccak256(data)


@settings(max_examples=200, deadline=None)
@given(_chunked())
def test_sm3_any_chunking_matches_openssl(chunked):
    data, cuts = chunked
    h = SM3()
    for piece in _pieces(data, cuts):
        h.update(piece)
    assert h.digest() == _oracle_sm3(data)


@settings(max_examples=100, deadline=None)
@given(_chunked())
def test_intermediate_digests_match_prefixes(chunked):
    # digest() after every update() equals the oracle of the prefix seen so far
    data, cuts = chunked
    k, s = Keccak256(), SM3()
    seen = 0
    for piece in _pieces(data, cuts):
        k.update(piece)
        s.update(piece)
        seen += len(piece)
        assert k.digest() == _oracle_keccak256(data[:seen])
        assert s.digest() == _oracle_sm3(data[:seen])
