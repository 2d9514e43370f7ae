"""A module whose import never ends: a fork server preloading it never finishes its imports
(tests/cli/test_fail_fast.py)."""

import time

while True:
    time.sleep(60)
