"""Compares `authbench check --json` results with a recorded verdicts file (stdlib only).

    python3 integration/verdicts.py check.json expected-verdicts.txt

The verdicts file has one `ID STATUS[|STATUS...]` per line (`#` starts a comment; `A|B` accepts
either, for timing-dependent checks). Every check of either side is printed with its mark; a check
whose status is not recorded, or recorded but missing from the run, is a change. Exit 0 when every
verdict is as recorded, 1 otherwise.
"""

import json
import sys


def main():
    results, recorded = sys.argv[1], sys.argv[2]
    got = {r["meta"]["id"]: r for r in json.load(open(results))["results"]}
    want = {}
    for line in open(recorded):
        line = line.split("#", 1)[0].strip()
        if line:
            cid, allowed = line.split()
            want[cid] = allowed.split("|")
    bad = 0
    for cid in sorted(set(got) | set(want)):
        r = got.get(cid)
        status = r["status"] if r else "MISSING"
        allowed = want.get(cid, ["(not recorded)"])
        ok = status in allowed
        bad += 0 if ok else 1
        msg = (r or {}).get("message", "")[:110]
        print(f"  {'ok' if ok else 'CHANGED':7} {cid:6} {status:5} (recorded {'|'.join(allowed)})  {msg}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
