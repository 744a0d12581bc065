#!/usr/bin/env python3
"""Decrypts a snapshot of an encrypted velo repository without velo, from docs/FORMAT.md ("Encryption") alone.

Usage: independent_decrypt.py REPOSITORY PASSWORD_FILE SNAPSHOT_ID OUT.tar.zst

Reads the repository's identity and key files, derives the wrapping key with scrypt, unwraps the master key,
opens the snapshot's catalog entry and its archive (sealed objects), checks the archive against the entry's
SHA-256, writes the plaintext archive to OUT, and prints a JSON summary: the rows of each table, counted from the
archive's records/ entries (through `zstd -dc` and Python's tarfile).
"""
import base64, hashlib, hmac, io, json, os, subprocess, sys, tarfile

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

CHUNK = 65536
SEALED = CHUNK + 28


def hkdf(key, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def open_sealed(data_key, path, stored):
    assert stored[:8] == b"VELOSEA1", f"{path}: not sealed"
    body = stored[8:]
    n = max(1, -(-len(body) // SEALED))
    key = AESGCM(hkdf(data_key, b"velo-object-v1\x00" + path.encode()))
    out = bytearray()
    for i in range(n):
        chunk = body[i * SEALED:(i + 1) * SEALED]
        ad = path.encode() + b"\x00" + i.to_bytes(8, "big") + (b"\x01" if i == n - 1 else b"\x00")
        out += key.decrypt(chunk[:12], chunk[12:], ad)
    return bytes(out)


def main():
    repo, password_file, snapshot, out_path = sys.argv[1:5]
    password = open(password_file, "rb").read().split(b"\n")[0]
    identity = json.load(open(os.path.join(repo, "velo-repository.json")))
    assert identity["version"] == 2 and identity["encryption"]["cipher"] == "AES-256-GCM"
    master = None
    for name in sorted(os.listdir(os.path.join(repo, "keys"))):
        keyfile = json.load(open(os.path.join(repo, "keys", name)))
        fields = [
            "velo-key-v1", keyfile["id"], keyfile["created"], keyfile["host"], keyfile["user"], keyfile["repository"],
            "scrypt", str(keyfile["kdf"]["n"]), str(keyfile["kdf"]["r"]), str(keyfile["kdf"]["p"]),
            keyfile["kdf"]["salt"], "AES-256-GCM", keyfile["nonce"], keyfile["master_key"],
        ]
        assert hashlib.sha256("\n".join(fields).encode()).hexdigest() == keyfile["checksum"], f"{name}: edited"
        kdf = keyfile["kdf"]
        wrapping = Scrypt(salt=base64.b64decode(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(password)
        ad = b"velo-key-v1\n" + keyfile["repository"].encode() + b"\n" + keyfile["id"].encode()
        try:
            candidate = AESGCM(wrapping).decrypt(base64.b64decode(keyfile["nonce"]), base64.b64decode(keyfile["master_key"]), ad)
        except Exception:
            continue
        address = hkdf(candidate, b"velo-address-v1")
        fingerprint = hmac.new(address, b"velo-fingerprint-v1", hashlib.sha256).digest()[:8].hex()
        if fingerprint == identity["encryption"]["key_fingerprint"]:
            master = candidate
            break
    assert master is not None, "wrong password"
    data_key = hkdf(master, b"velo-data-v1")

    entry_path = f"catalog/{snapshot}.json"
    entry = json.loads(open_sealed(data_key, entry_path, open(os.path.join(repo, entry_path), "rb").read()))
    archive_path = entry["archive"]
    archive = open_sealed(data_key, archive_path, open(os.path.join(repo, archive_path), "rb").read())
    assert hashlib.sha256(archive).hexdigest() == entry["archive_sha256"], "archive SHA-256 differs from its entry's"
    with open(out_path, "wb") as f:
        f.write(archive)
    tar_bytes = subprocess.run(["zstd", "-dc"], input=archive, capture_output=True, check=True).stdout
    rows = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        for member in tar:
            parts = member.name.split("/")
            if len(parts) == 3 and parts[0] == "records" and member.isfile():
                lines = tar.extractfile(member).read().count(b"\n")
                rows[parts[1]] = rows.get(parts[1], 0) + lines
    print(json.dumps({"archive": archive_path, "rows": rows}))


main()
