"""Drives PyPI's p9fs (fsspec over 9P2000.L) against a server.

Usage: p9fs_client.py HOST:PORT [ANAME]. Works in the tree ANAME names
(default: the export's root). Prints one fact per line for the Rust test
to check; any error raises and exits non-zero.
"""
import sys

from p9fs import P9FileSystem

host, port = sys.argv[1].rsplit(":", 1)
aname = sys.argv[2] if len(sys.argv) > 2 else ""
fs = P9FileSystem(host, int(port), "p9fs", version="9P2000.L", aname=aname)
print("ls", " ".join(sorted(fs.ls("", detail=False))))
print("cat", fs.cat("sub/file.txt").decode())
fs.pipe_file("made.txt", b"written by p9fs")
print("back", fs.cat("made.txt").decode())
print("size", fs.info("made.txt")["size"])
fs.mkdir("newdir")
print("isdir", fs.isdir("newdir"))
fs.rm("made.txt")
print("after", " ".join(sorted(fs.ls("", detail=False))))
