"""What a pruned event keeps so that its link in the chain is still proved without its content.

An event's hash is SHA-256 over ``{"event":<core>,"prev_hash":"<hex>","seq":<n>}`` (see
:mod:`kansa.integrity.chain`). SHA-256 reads its input in 64-byte blocks and carries only a
32-byte state from one block to the next. So a pruned event keeps a :class:`Commitment`: the
state after the whole blocks of ``{"event":<core>`` and the few bytes after them (the
*tail*, under 64 bytes: the end of the event — ``"v":1}`` and the last characters of the
user agent or trace id before it). From that, its ``prev_hash`` and its ``seq``, verify
recomputes the hash exactly as if it had the bytes: the link to the event before it and its
place in the chain are still proved, while the names, logins, addresses and messages are gone.
Finding other content that gives the same state is finding a SHA-256 collision.

The state is read and resumed with OpenSSL's ``libcrypto`` (the library Python's own
``hashlib`` uses) where it can be loaded, else by the same compression written out below;
both give the same bytes (a test checks).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import struct
from dataclasses import dataclass

BLOCK = 64
_HEAD = struct.Struct(">Q32s")


@dataclass(frozen=True, slots=True)
class Commitment:
    """The SHA-256 state after ``length`` bytes of an event's hashed bytes, and the tail."""

    length: int
    state: bytes
    tail: bytes

    def to_bytes(self) -> bytes:
        """``length`` (8 bytes, big-endian), ``state`` (32), ``tail`` (0-63)."""
        return _HEAD.pack(self.length, self.state) + self.tail

    @classmethod
    def from_bytes(cls, data: bytes) -> Commitment:
        if not _HEAD.size <= len(data) < _HEAD.size + BLOCK:
            raise ValueError("a commitment is 40 to 103 bytes")
        length, state = _HEAD.unpack_from(data)
        if length % BLOCK:
            raise ValueError("a commitment's length is a multiple of 64")
        return cls(length, state, data[_HEAD.size :])


def suffix(prev_hash: str, seq: int) -> bytes:
    """The hashed bytes after the event: its link to the chain."""
    return b',"prev_hash":"%b","seq":%d}' % (prev_hash.encode("ascii"), seq)


def commit(body: bytes, prev_hash: str, seq: int) -> Commitment:
    """The commitment of the hashed ``body`` of the event at ``seq`` linked to ``prev_hash``
    (ValueError when ``body`` does not end with that link)."""
    end = suffix(prev_hash, seq)
    if not body.endswith(end):
        raise ValueError(f"the bytes of seq {seq} do not end with its link")
    prefix = body[: len(body) - len(end)]
    whole = len(prefix) // BLOCK * BLOCK
    return Commitment(whole, _backend.state_after(prefix[:whole]), prefix[whole:])


def resume(commitment: Commitment, prev_hash: str, seq: int) -> str:
    """The hash (hex) of the event ``commitment`` stands for, linked to ``prev_hash`` at
    ``seq``."""
    rest = commitment.tail + suffix(prev_hash, seq)
    return _backend.finish(commitment.state, commitment.length, rest).hex()


# -- SHA-256 with its state in view ------------------------------------------------------

_IV = (
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19
)  # fmt: skip
_K = (
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
)  # fmt: skip
_M = 0xFFFFFFFF
_WORDS = struct.Struct(">8L")


def _rotr(x: int, n: int) -> int:
    return (x >> n | x << (32 - n)) & _M


def _compress(h: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    w = list(struct.unpack(">16L", block))
    for i in range(16, 64):
        a, b = w[i - 15], w[i - 2]
        s0 = _rotr(a, 7) ^ _rotr(a, 18) ^ (a >> 3)
        s1 = _rotr(b, 17) ^ _rotr(b, 19) ^ (b >> 10)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & _M)
    a, b, c, d, e, f, g, hh = h
    for i in range(64):
        t1 = hh + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + _K[i] + w[i]
        t2 = (_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
        hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & _M, c, b, a, (t1 + t2) & _M
    return tuple((x + y) & _M for x, y in zip(h, (a, b, c, d, e, f, g, hh), strict=True))


class PurePython:
    """SHA-256's compression in Python: slow (about 0.1 ms a block), needs nothing."""

    @staticmethod
    def state_after(data: bytes) -> bytes:
        h: tuple[int, ...] = _IV
        for start in range(0, len(data), BLOCK):
            h = _compress(h, data[start : start + BLOCK])
        return _WORDS.pack(*h)

    @staticmethod
    def finish(state: bytes, length: int, rest: bytes) -> bytes:
        total = length + len(rest)
        padded = rest + b"\x80" + b"\0" * ((55 - total) % BLOCK) + struct.pack(">Q", total * 8)
        h: tuple[int, ...] = _WORDS.unpack(state)
        for start in range(0, len(padded), BLOCK):
            h = _compress(h, padded[start : start + BLOCK])
        return _WORDS.pack(*h)


class _Context(ctypes.Structure):
    """OpenSSL's ``SHA256_CTX``."""

    _fields_ = [
        ("h", ctypes.c_uint32 * 8),
        ("Nl", ctypes.c_uint32),
        ("Nh", ctypes.c_uint32),
        ("data", ctypes.c_uint32 * 16),
        ("num", ctypes.c_uint32),
        ("md_len", ctypes.c_uint32),
    ]


class LibCrypto:
    """The same through ``libcrypto``'s ``SHA256_Init/Update/Final``: about 4 µs an event."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._init, self._update, self._final = lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final
        self._update.argtypes = [ctypes.POINTER(_Context), ctypes.c_char_p, ctypes.c_size_t]

    def state_after(self, data: bytes) -> bytes:
        context = _Context()
        self._init(ctypes.byref(context))
        self._update(ctypes.byref(context), data, len(data))
        return _WORDS.pack(*context.h)

    def finish(self, state: bytes, length: int, rest: bytes) -> bytes:
        context = _Context()
        self._init(ctypes.byref(context))
        context.h[:] = _WORDS.unpack(state)
        bits = length * 8
        context.Nl, context.Nh = bits & _M, bits >> 32
        self._update(ctypes.byref(context), rest, len(rest))
        out = ctypes.create_string_buffer(32)
        self._final(out, ctypes.byref(context))
        return out.raw


def _load() -> LibCrypto | PurePython:
    name = ctypes.util.find_library("crypto")
    try:
        backend = LibCrypto(ctypes.CDLL(name)) if name else None
    except (OSError, AttributeError):
        backend = None
    if backend is None or backend.state_after(b"") != PurePython.state_after(b""):
        return PurePython()
    if backend.finish(_WORDS.pack(*_IV), 0, b"abc") != PurePython.finish(
        _WORDS.pack(*_IV), 0, b"abc"
    ):
        return PurePython()
    return backend


_backend = _load()
