#!/usr/bin/python3
"""read_safetensors.py - an independent reader of safetensors files, in
Python's standard library only (struct, json, hashlib), for the checkpoint
tests: it checks what the safetensors library requires (header length,
a JSON object starting with '{', offsets contiguous from 0 to the end of
the file, sizes matching dtype and shape) and prints one line per tensor,
in header order:

    name<TAB>dtype<TAB>d0,d1,...<TAB>sha256-of-its-bytes

Exits 1 with a message on stderr when the file breaks a rule.
"""
import hashlib
import json
import struct
import sys

SIZES = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2}


def fail(msg):
    sys.stderr.write("read_safetensors: %s\n" % msg)
    sys.exit(1)


def main(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > 100_000_000 or 8 + n > len(blob):
        fail("bad header length %d" % n)
    raw = blob[8:8 + n]
    if not raw.startswith(b"{"):
        fail("header does not start with '{'")
    header = json.loads(raw.decode("utf-8"))
    if (8 + n) % 8:
        fail("data does not start 8-byte aligned")
    meta = header.pop("__metadata__", {})
    if not all(isinstance(v, str) for v in meta.values()):
        fail("metadata values must be strings")
    data = blob[8 + n:]
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in header.items())
    pos = 0
    for b, e, name in spans:
        if b != pos or e < b:
            fail("tensor %r: offsets [%d, %d] do not follow on from %d" % (name, b, e, pos))
        pos = e
    if pos != len(data):
        fail("data is %d bytes, tensors cover %d" % (len(data), pos))
    for name, v in header.items():
        count = 1
        for d in v["shape"]:
            count *= d
        b, e = v["data_offsets"]
        if e - b != count * SIZES[v["dtype"]]:
            fail("tensor %r: size disagrees with its shape" % name)
        if (8 + n + b) % SIZES[v["dtype"]]:
            fail("tensor %r: not aligned to its element size" % name)
        digest = hashlib.sha256(data[b:e]).hexdigest()
        print("%s\t%s\t%s\t%s" % (name, v["dtype"], ",".join(str(d) for d in v["shape"]), digest))
    print("format\t%s" % meta.get("format", ""))


if __name__ == "__main__":
    main(sys.argv[1])
