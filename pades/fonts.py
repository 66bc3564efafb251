"""The fonts every PDF of the service is drawn and stamped in: PT Sans (embedded, Cyrillic)."""
from pathlib import Path

import fontpkg_pt_sans

FONT_FILES = Path(fontpkg_pt_sans.ROOT) / "files"
FONT_REGULAR = FONT_FILES / "PT_Sans-Web-Regular.ttf"
FONT_BOLD = FONT_FILES / "PT_Sans-Web-Bold.ttf"
