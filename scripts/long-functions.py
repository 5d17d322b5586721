#!/usr/bin/env python3
"""Lists Rust functions longer than LIMIT lines (from the `fn` line to its
closing brace), longest first: `scripts/long-functions.py 60 crates/hsm/src
crates/cli/src crates/audit/src`. Issue 15 asks for functions under ~60
lines; this is how the figures in its notes are counted. A rough brace
matcher: string and char literals and // comments are skipped, raw strings
(r#"..."#) are not, so a function holding JSON in one may read too long.
"""
import re, sys, pathlib
limit = int(sys.argv[1])
roots = sys.argv[2:]
fn_re = re.compile(r'^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+"[^"]*"\s+)?fn\s+(\w+)')
out = []
def strip(line):
    # crude: drop string literals, char literals and // comments
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split('//')[0]
for root in roots:
    base = pathlib.Path(root)
    for p in [base] if base.is_file() else sorted(base.rglob('*.rs')):
        lines = p.read_text().splitlines()
        i = 0
        while i < len(lines):
            m = fn_re.match(lines[i])
            if not m:
                i += 1; continue
            depth = 0; started = False; j = i
            while j < len(lines):
                s = strip(lines[j])
                if not started and ';' in s and '{' not in s:
                    break
                for c in s:
                    if c == '{': depth += 1; started = True
                    elif c == '}': depth -= 1
                if started and depth == 0: break
                j += 1
            n = j - i + 1
            if started and n > limit:
                out.append((n, f"{p}:{i+1}", m.group(7)))
            i += 1
for n, loc, name in sorted(out, reverse=True):
    print(f"{n:5d} {loc} {name}")
