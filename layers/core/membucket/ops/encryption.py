"""Passphrase encryption of export bundles, in chunks, so memory stays bounded at any size.

Format (``.mbx``)::

    b"MBX1" | u32 header length | header JSON | chunk*
    header = {"kdf": "scrypt", "n", "r", "p", "salt", "nonce_prefix", "chunk_size", "check"}
    chunk  = u32 ciphertext length | AES-256-GCM(ciphertext + 16-byte tag)

- Key: scrypt (memory-hard; n=2**15, r=8, p=1 is 32 MiB per derivation) over the passphrase.
- Chunk i is sealed with nonce ``nonce_prefix(8) | i (u32 BE)`` and associated data
  ``header | i (u64 BE) | final (1 byte)``. Reordering changes i, dropping the tail leaves a
  last chunk sealed as not-final, and editing the header changes every chunk's AAD: each is an
  authentication failure. There is always a final chunk (possibly empty).
- ``check`` is a GCM tag over nothing under the key (nonce counter 0xFFFFFFFF, never a chunk's),
  so a wrong passphrase is told apart from a damaged file before any chunk is read.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..errors import BadPassphrase, BundleChecksum, BundleInvalid

__all__ = ["MAGIC", "EncryptingWriter", "decrypt_stream", "is_encrypted", "CHUNK_SIZE"]

MAGIC = b"MBX1"
CHUNK_SIZE = 1 << 20
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_CHECK_COUNTER = 0xFFFFFFFF
_MAX_HEADER = 4096


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    if not passphrase:
        raise BadPassphrase("the passphrase is empty")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if final else 0)


def is_encrypted(head: bytes) -> bool:
    return head[:4] == MAGIC


class EncryptingWriter:
    """A write-only file object: plaintext in, sealed chunks out to ``out``. Call ``close()``."""

    def __init__(self, out: BinaryIO, passphrase: str, chunk_size: int = CHUNK_SIZE) -> None:
        salt, self._prefix = os.urandom(16), os.urandom(8)
        key = _key(passphrase, salt, **SCRYPT)
        self._aes = AESGCM(key)
        check = self._aes.encrypt(self._prefix + struct.pack(">I", _CHECK_COUNTER), b"", b"membucket-key-check")
        doc = {
            "kdf": "scrypt", **SCRYPT, "salt": base64.b64encode(salt).decode(), "nonce_prefix": base64.b64encode(self._prefix).decode(),
            "chunk_size": chunk_size, "check": base64.b64encode(check).decode(), "cipher": "AES-256-GCM",
        }
        self._header = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        self._out, self._chunk_size = out, chunk_size
        self._buf = bytearray()
        self._index = 0
        self._closed = False
        out.write(MAGIC + struct.pack(">I", len(self._header)) + self._header)

    def _seal(self, data: bytes, final: bool) -> None:
        nonce = self._prefix + struct.pack(">I", self._index)
        sealed = self._aes.encrypt(nonce, data, _aad(self._header, self._index, final))
        self._out.write(struct.pack(">I", len(sealed)) + sealed)
        self._index += 1

    def write(self, data) -> int:
        self._buf += data
        while len(self._buf) > self._chunk_size:  # strictly more: the last full chunk may be final
            self._seal(bytes(self._buf[: self._chunk_size]), False)
            del self._buf[: self._chunk_size]
        return len(data)

    def flush(self) -> None:
        pass

    def tell(self) -> int:  # zipfile treats the stream as unseekable when tell() fails
        raise OSError("not seekable")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._seal(bytes(self._buf), True)
            self._buf = bytearray()


def decrypt_stream(src: BinaryIO, dst: BinaryIO, passphrase: str) -> None:
    """Decrypt ``src`` into ``dst``; raise BadPassphrase, or BundleChecksum for any damage."""
    head = src.read(8)
    if len(head) < 8 or head[:4] != MAGIC:
        raise BundleInvalid("not an encrypted membucket bundle")
    (hlen,) = struct.unpack(">I", head[4:])
    if hlen > _MAX_HEADER:
        raise BundleInvalid("encrypted bundle header is too large")
    header = src.read(hlen)
    try:
        doc = json.loads(header)
        salt, prefix, check = (base64.b64decode(doc[k]) for k in ("salt", "nonce_prefix", "check"))
        n, r, p, chunk_size = int(doc["n"]), int(doc["r"]), int(doc["p"]), int(doc["chunk_size"])
        # the header is untrusted: bound the work and memory (128 * n * r bytes) it can demand
        if doc.get("kdf") != "scrypt" or len(prefix) != 8 or n & (n - 1) or not (2**10 <= n <= 2**18 and 1 <= r <= 16 and 1 <= p <= 4):
            raise ValueError("unsupported scrypt parameters")
        if 128 * n * r > 256 << 20 or not (1024 <= chunk_size <= 64 << 20):
            raise ValueError("scrypt memory or chunk size out of bounds")
    except (ValueError, KeyError, TypeError, OverflowError) as exc:  # OverflowError: int(Infinity)
        raise BundleInvalid(f"encrypted bundle header is invalid: {exc}") from None
    aes = AESGCM(_key(passphrase, salt, n, r, p))
    try:
        aes.decrypt(prefix + struct.pack(">I", _CHECK_COUNTER), check, b"membucket-key-check")
    except InvalidTag:
        raise BadPassphrase("wrong passphrase (or a damaged bundle header)") from None
    index = 0
    pending = _read_chunk(src, chunk_size)
    if pending is None:
        raise BundleChecksum("encrypted bundle is truncated (no chunks)")
    while True:
        following = _read_chunk(src, chunk_size)
        final = following is None
        try:
            plain = aes.decrypt(prefix + struct.pack(">I", index), pending, _aad(header, index, final))
        except InvalidTag:
            raise BundleChecksum(f"encrypted bundle failed authentication at chunk {index}: truncated, reordered or tampered") from None
        dst.write(plain)
        if following is None:
            return
        pending, index = following, index + 1


def _read_chunk(src: BinaryIO, chunk_size: int) -> bytes | None:
    raw = src.read(4)
    if not raw:
        return None
    if len(raw) < 4:
        raise BundleChecksum("encrypted bundle is truncated")
    (n,) = struct.unpack(">I", raw)
    if n > chunk_size + 16:
        raise BundleChecksum("encrypted bundle has an oversized chunk")
    data = src.read(n)
    if len(data) != n:
        raise BundleChecksum("encrypted bundle is truncated")
    return data
