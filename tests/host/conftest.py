"""Host tests may reuse the firmware tests' helpers (chain builder, vector loader)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware"))
