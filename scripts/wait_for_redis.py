"""Wait until the Redis of REDIS_URL answers PING (used by the Procfile before workers start)."""

import os
import sys
import time

import redis

URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def main(timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            redis.Redis.from_url(URL, socket_connect_timeout=1).ping()
            return 0
        except redis.RedisError as exc:
            if time.monotonic() > deadline:
                print(f"Redis at {URL} did not answer within {timeout:.0f}s: {exc}", file=sys.stderr)
                return 1
            time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 30.0))
