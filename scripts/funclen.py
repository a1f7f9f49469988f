#!/usr/bin/python3
"""Print every C function longer than the house limit (80 lines).

Informational, like the kernel's checkpatch: a flat switch may exceed it.
A function is found as a line that starts at column 0 with an identifier
and ends with ')' followed by a line holding only '{'; it ends at the next
'}' in column 0.
"""
import re
import sys

LIMIT = 80


def scan(path):
    lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    out = []
    i = 0
    while i < len(lines) - 1:
        if lines[i + 1] == "{" and re.match(r"^[A-Za-z_].*\)\s*$", lines[i]):
            name = re.findall(r"([A-Za-z_]\w*)\s*\(", lines[i])
            start = i
            j = i + 2
            while j < len(lines) and lines[j] != "}":
                j += 1
            n = j - start + 1
            if n > LIMIT and name:
                out.append((n, f"{path}:{start + 1}: {name[0]}() is {n} lines"))
            i = j
        i += 1
    return out


def main(paths):
    found = sorted((r for p in paths for r in scan(p)), reverse=True)
    for _, msg in found:
        print(msg)
    if found:
        print(f"funclen: {len(found)} function(s) over {LIMIT} lines (allowed for flat switches)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
