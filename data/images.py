"""Image files -> 28x28 uint8 arrays in MNIST's form, by one documented rule (README "Your own data").

1. decode (PNG, JPEG; any size, any mode) and convert to 8-bit grayscale (ITU-R 601-2 luma);
2. ink bright on dark, as MNIST: with `dark_on_light` (scans of pen on paper) every value v becomes 255 - v;
3. pad to a square with black (0), the image centred, so the aspect ratio is kept;
4. resize to 28x28 with area averaging (Pillow's BOX filter): each output pixel is the mean of the
   source pixels it covers, so thin strokes fade rather than vanish.

    python -c "from data.images import to_mnist; print(to_mnist(open('digit.png','rb').read()).shape)"
"""
from __future__ import annotations

import io

import numpy as np

SIZE = 28
EXTENSIONS = (".png", ".jpg", ".jpeg")


class ImageError(ValueError):
    """The bytes are not a usable image; the message says what was expected."""


def to_mnist(data: bytes, dark_on_light: bool = False) -> np.ndarray:
    """Encoded image bytes -> uint8[28, 28] by the rule above; ImageError if it cannot be decoded or is empty."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageError("empty file; expected a PNG or JPEG image")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            gray = np.asarray(img.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"cannot decode ({e}); expected a PNG or JPEG image") from e
    if gray.size == 0:
        raise ImageError("image has no pixels; expected at least 1x1")
    if dark_on_light:
        gray = 255 - gray
    h, w = gray.shape
    side = max(h, w)
    square = np.zeros((side, side), dtype=np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    square[top:top + h, left:left + w] = gray
    if side == SIZE:
        return square
    return np.asarray(Image.fromarray(square).resize((SIZE, SIZE), Image.Resampling.BOX), dtype=np.uint8)


def is_image_name(name: str) -> bool:
    return name.lower().endswith(EXTENSIONS) and not name.startswith(".")
