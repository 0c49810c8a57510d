"""Compares `authbench check --json` results with a recorded verdicts file (stdlib only).

    python3 integration/verdicts.py check.json expected-verdicts.txt [--rerun rerun.json]
    python3 integration/verdicts.py check.json expected-verdicts.txt --unrecorded-errors

The verdicts file has one `ID STATUS[|STATUS...]` per line (`#` starts a comment; `A|B` accepts
either, for timing-dependent checks). Every check of either side is printed with its mark; a check
whose status is not recorded, or recorded but missing from the run, is a change. Exit 0 when every
verdict is as recorded, 1 otherwise.

ERROR means authbench could not run the check (the server answered outside what the check can
judge, e.g. an empty 200 to a refresh). `--unrecorded-errors` prints, comma-separated, the checks
that ended in ERROR where the file records another status: the ones an integration runs once more.
`--rerun` takes that second run's results in place of the first run's ERRORs, and prints the first
message beside them. A verdict that changed any other way is never re-run.
"""

import json
import sys


def load_results(path):
    return {r["meta"]["id"]: r for r in json.load(open(path))["results"]}


def load_recorded(path):
    want = {}
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if line:
            cid, allowed = line.split()
            want[cid] = allowed.split("|")
    return want


def unrecorded_errors(got, want):
    return sorted(
        cid
        for cid, r in got.items()
        if r["status"] == "ERROR" and "ERROR" not in want.get(cid, ["ERROR"])
    )


def main():
    args = sys.argv[1:]
    results, recorded = args[0], args[1]
    got, want = load_results(results), load_recorded(recorded)
    if "--unrecorded-errors" in args:
        print(",".join(unrecorded_errors(got, want)))
        return
    first_errors = {}
    if "--rerun" in args:
        rerun = load_results(args[args.index("--rerun") + 1])
        for cid in unrecorded_errors(got, want):
            if cid in rerun:
                first_errors[cid] = got[cid].get("message", "")
                got[cid] = rerun[cid]
    bad = 0
    for cid in sorted(set(got) | set(want)):
        r = got.get(cid)
        status = r["status"] if r else "MISSING"
        allowed = want.get(cid, ["(not recorded)"])
        ok = status in allowed
        bad += 0 if ok else 1
        msg = (r or {}).get("message", "")[:110]
        print(f"  {'ok' if ok else 'CHANGED':7} {cid:6} {status:5} (recorded {'|'.join(allowed)})  {msg}")
        if cid in first_errors:
            print(f"          {cid:6} re-run: the first run was ERROR: {first_errors[cid][:110]}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
