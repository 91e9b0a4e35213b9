"""`python app.py` whose first load of the index and model waits until a file exists, for the browser test of
the page while they load (a cold start on a slow disk, held for as long as the test needs).

    RLA_HOLD_LOAD=/tmp/go python tests/held_app.py [app.py OPTIONS]

Nothing test-only ships in rag/: this wraps the real app, and the load itself is the real one.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # app.py lives at the repository's root

import rag.web.library as library
from app import main

if __name__ == "__main__":
    gate = Path(os.environ["RLA_HOLD_LOAD"])
    real_load = library.Library.load

    def held_load(self: library.Library) -> object:
        while not gate.exists():
            time.sleep(0.05)
        return real_load(self)

    library.Library.load = held_load  # type: ignore[assignment,method-assign]
    sys.exit(main())
