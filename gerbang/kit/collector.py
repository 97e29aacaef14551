"""CPython's cyclic garbage collector, set for a long-lived server process.

The defaults suit short scripts: a young collection every 700 new container objects, promoting survivors,
and a full collection whenever enough of them reached the oldest generation. In a `gerbang serve` process,
measured in the pay-in benchmark (docs/PERFORMANCE.md), that meant:

- every full collection walked again the ~260,000 objects that imports and `create_app` built and that live as
  long as the process (modules, routes, pydantic models): 0.25-0.3 s each, a pause in which the event loop
  answers no one, five to seven times a run;
- the objects of requests in flight (alive across awaits) were scanned by young collections, promoted, and
  counted towards the next full one: in all about a tenth of the server's CPU, and 15% of the sandbox PSP's.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""New container objects between young collections. A request's objects mostly die (by reference count)
before this many are made, so they are neither scanned nor promoted; the cyclic garbage kept meanwhile is a
few megabytes at most."""
OLDER_THRESHOLDS = (20, 20)


def settle_for_serving() -> None:
    """Once, when the process has built what it keeps for its life and is about to serve: collect what
    start-up left behind, move everything alive into the permanent generation (never scanned again), and
    space young collections out."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
