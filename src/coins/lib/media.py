"""Uploaded images (campaign banners and icons): checked by content, not by name, stored under MEDIA_DIR.

Only PNG, JPEG, WebP and GIF that Pillow can actually decode are kept (never SVG: it can carry script).
Files get random names; the old file is removed when replaced.  Several replicas must share MEDIA_DIR
(a volume), see the README.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from coins.lib.errors import InvalidInput

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif"}
MAX_PIXELS = 25_000_000  # refuse decompression bombs before decoding


@dataclass(frozen=True)
class ImageRule:
    field: str
    max_bytes: int
    max_width: int
    max_height: int


BANNER = ImageRule("banner", max_bytes=2 * 1024 * 1024, max_width=4000, max_height=2000)
ICON = ImageRule("icon", max_bytes=512 * 1024, max_width=1024, max_height=1024)


def check_image(data: bytes, rule: ImageRule) -> str:
    """Return the file extension for a valid image, or raise InvalidInput naming the field."""
    if not data:
        raise InvalidInput("The file is empty.", fields={rule.field: "Choose an image file."})
    if len(data) > rule.max_bytes:
        limit = (
            f"{rule.max_bytes // 1024} KB" if rule.max_bytes < 1024 * 1024 else f"{rule.max_bytes // (1024 * 1024)} MB"
        )
        raise InvalidInput("The file is too large.", fields={rule.field: f"The {rule.field} must be at most {limit}."})
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format or ""
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InvalidInput("The image is too large.", fields={rule.field: "The image has too many pixels."})
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InvalidInput(
            "That file is not an image we accept.",
            fields={rule.field: "Upload a PNG, JPEG, WebP or GIF image."},
        ) from None
    if kind not in FORMATS:
        raise InvalidInput(
            "That image type is not accepted.", fields={rule.field: "Upload a PNG, JPEG, WebP or GIF image."}
        )
    if width > rule.max_width or height > rule.max_height:
        raise InvalidInput(
            "The image is too large.",
            fields={rule.field: f"The {rule.field} must be at most {rule.max_width}x{rule.max_height} pixels."},
        )
    return FORMATS[kind]


def store_image(media_root: Path, folder: str, data: bytes, rule: ImageRule) -> str:
    """Validate and write the image; return its path relative to the media root."""
    extension = check_image(data, rule)
    relative = Path(folder) / f"{rule.field}-{secrets.token_urlsafe(12)}{extension}"
    target = media_root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(target.suffix + ".part")
    temporary.write_bytes(data)
    temporary.replace(target)  # atomic: a reader never sees half a file
    return relative.as_posix()


def remove_image(media_root: Path, relative: str | None) -> None:
    if relative:
        path = (media_root / relative).resolve()
        if path.is_relative_to(media_root.resolve()):
            path.unlink(missing_ok=True)
