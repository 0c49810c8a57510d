"""The storm's width on the wire, from a packet capture: an observer that is neither authbench nor
the server.

    python3 bench/wire_spread.py storm.pcap

Reads a pcap of the storm's resource calls (bench/run-all.sh, row 7: `tcpdump -i lo -s 600` of
every TCP segment whose payload starts with `GET `), takes each user's first call (the user is the
`sub` of the JWT access token in its `Authorization: Bearer` header; in scenarios/storm.yaml no
resource call is made before the synchronized phase, so a user's first call is its first of the
storm) and prints, as JSON, how many calls and users it saw and the spread of those first calls:
p99 - first and max - first, in ms. The same statistic as the mock's `server_arrivals.spread_p99_us`
and as send_skew's p99 - min, so the three can be compared. Needs dpkt (`pip install dpkt`).
"""

import base64
import json
import math
import re
import sys

import dpkt

BEARER = re.compile(rb"\r\nauthorization: *bearer +([A-Za-z0-9_\-.]+)", re.IGNORECASE)


def subject(token: bytes):
    """The `sub` claim of a JWT, or None when the token is not one."""
    try:
        payload = token.split(b".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
        return claims.get("sub")
    except (IndexError, ValueError, AttributeError):
        return None


def first_calls(path: str):
    """(calls seen, {user: instant of its first call, in seconds})."""
    first, calls = {}, 0
    with open(path, "rb") as f:
        for ts, frame in dpkt.pcap.Reader(f):
            ip = dpkt.ethernet.Ethernet(frame).data
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            payload = ip.data.data
            if not payload.startswith(b"GET "):
                continue
            found = BEARER.search(payload)
            if not found:
                continue
            calls += 1
            user = subject(found.group(1))
            if user is not None and user not in first:
                first[user] = ts
    return calls, first


def main() -> int:
    calls, first = first_calls(sys.argv[1])
    times = sorted(first.values())
    if not times:
        print(json.dumps({"calls": calls, "users": 0}))
        return 1
    # The p99 as HDR histograms read it: the smallest value with at least 99 % at or below it.
    p99 = times[max(0, math.ceil(0.99 * len(times)) - 1)]
    print(
        json.dumps(
            {
                "calls": calls,
                "users": len(times),
                "spread_p99_ms": round((p99 - times[0]) * 1000, 1),
                "spread_max_ms": round((times[-1] - times[0]) * 1000, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
