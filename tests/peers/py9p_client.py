"""Drives PyPI's python-9p (plan9port's 9P2000 codec) against a server.

Usage: py9p_client.py HOST:PORT [ANAME]. Works in the tree ANAME names
(default: the export's root). Prints what it read, one fact per line, for
the Rust test to check; any protocol error raises and exits non-zero.
"""
import sys

from py9p import Client, decode_dir, OREAD, ORDWR, DMDIR

host, port = sys.argv[1].rsplit(":", 1)
aname = sys.argv[2] if len(sys.argv) > 2 else ""
c = Client.connect_tcp(host, int(port), timeout=10)
print("version", c.negotiate().version)
c.attach(0, uname="py9p", aname=aname)

c.walk(0, 1, "sub/file.txt")
c.open(1, OREAD)
print("read", c.read(1).decode())
c.clunk(1)

c.walk(0, 2, [])
c.create(2, "new.txt", 0o644, ORDWR)
print("wrote", c.write(2, b"written by python-9p"))
c.clunk(2)
c.walk(0, 3, "new.txt")
print("length", c.stat(3).length)
c.remove(3)

c.walk(0, 4, [])
c.open(4, OREAD)
names, offset = [], 0
while True:
    data = c.read(4, offset=offset)
    if not data:
        break
    offset += len(data)
    at = 0
    while at < len(data):
        size = int.from_bytes(data[at:at + 2], "little") + 2
        d = decode_dir(data[at:at + size])
        names.append(d.name + ("/" if d.mode & DMDIR else ""))
        at += size
print("names", " ".join(sorted(names)))
c.clunk(4)
c.close()
