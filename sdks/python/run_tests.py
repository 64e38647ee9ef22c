#!/usr/bin/env python3
"""Runs the Python SDK's unittest suite against real servers it starts itself (``node dist/main.js``,
built by ``npm ci``) and prints ``N passed, N failed``."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from tests import support  # noqa: E402


def main() -> int:
    if not os.path.exists(os.path.join(support.ROOT, "dist", "main.js")):
        print("dist/main.js is missing: run `npm ci` (or `npm run build`) first", file=sys.stderr)
        return 2
    suite = unittest.defaultTestLoader.discover(os.path.join(HERE, "tests"), top_level_dir=HERE)
    try:
        result = unittest.TextTestRunner(verbosity=1 if "-q" in sys.argv else 2).run(suite)
    finally:
        support.stop_shared()
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = max(0, result.testsRun - len(result.failures) - len(result.errors) - skipped)
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
