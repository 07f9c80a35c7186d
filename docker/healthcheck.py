#!/usr/bin/env python3
"""HEALTHCHECK for every ring service: exit 0 when $RING_HEALTH_URL answers 2xx (stdlib only)."""
import os
import sys
import urllib.request

url = os.environ.get("RING_HEALTH_URL", "http://127.0.0.1:8000/health")
try:
    with urllib.request.urlopen(url, timeout=4) as resp:
        sys.exit(0 if 200 <= resp.status < 300 else 1)
except Exception as exc:  # connection refused while starting, HTTP errors, timeouts
    print(f"{url}: {exc}", file=sys.stderr)
    sys.exit(1)
