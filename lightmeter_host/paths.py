"""Where the project's own files are, for the host tools run from a checkout (or an editable
install): the repository root, its boards/, proto/ and node_modules/."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BOARDS_DIR = PROJECT_ROOT / "boards"
NODE_MODULES = PROJECT_ROOT / "node_modules"
