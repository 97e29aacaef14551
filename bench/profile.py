"""Where a server's CPU went: py-spy's folded stacks (`py-spy record --format raw`) summed into a few
buckets and the most expensive functions of gerbang's own code.

    python -m bench.profile FILE.folded
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

Frames = list[str]
_LINE = re.compile(r":\d+\)$")

# The first rule a stack matches names its bucket, so a database call made from our code counts as the
# database's, and only what is left in our own frames counts as our code.
BUCKETS: list[tuple[str, Callable[[Frames], bool]]] = [
    ("asyncpg: statements, BEGIN/COMMIT, pool", lambda fs: any("asyncpg/" in f for f in fs)),
    ("aiohttp: the HTTP call to the PSP", lambda fs: any("aiohttp/" in f for f in fs)),
    ("route matching (FastAPI)", lambda fs: any(re.search(r"(matches|_match) \(fastapi/routing", f) for f in fs)),
    ("logging (structlog, access log)", lambda fs: any("structlog" in f or "kit/log" in f for f in fs)),
    ("pydantic / json", lambda fs: any("pydantic" in f or "json/" in f or "orjson" in f for f in fs)),
    ("crypto (HMAC, AES-GCM, SHA-256)", lambda fs: any("crypto" in f or "hmac" in f or "hashlib" in f for f in fs)),
    ("QRIS payload (CRC-16 in Python)", lambda fs: any("qris" in f for f in fs)),
    ("event loop, sockets (uvloop, httptools)", lambda fs: fs[-1].startswith("Runner.run") or "httptools" in fs[-1]),
    ("gerbang's own Python", lambda fs: "gerbang/" in fs[-1]),
]
OTHER = "framework (FastAPI, Starlette, uvicorn, middleware)"


def _stacks(path: Path) -> list[tuple[Frames, int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            stacks.append(([_LINE.sub(")", frame) for frame in stack.split(";")], int(count)))
    return stacks


def summarize(path: Path, top: int = 15) -> dict[str, Any]:
    stacks = _stacks(path)
    total = sum(count for _, count in stacks) or 1
    buckets: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    for frames, count in stacks:
        buckets[next((name for name, rule in BUCKETS if rule(frames)), OTHER)] += count
        for frame in {
            f for f in frames if "(gerbang/" in f and not f.startswith("<module>") and "gerbang/cli/" not in f
        }:
            functions[frame] += count
    return {
        "samples": total,
        "buckets_pct": {name: round(100 * count / total, 1) for name, count in buckets.most_common()},
        "gerbang_functions_inclusive_pct": {
            name: round(100 * count / total, 1) for name, count in functions.most_common(top)
        },
    }


if __name__ == "__main__":
    json.dump(summarize(Path(sys.argv[1])), sys.stdout, indent=2)
    print()
