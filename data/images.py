"""Image files -> 28x28 uint8 arrays in MNIST's form, by one documented rule (README "Your own data").

1. decode (PNG, JPEG; any size), with the EXIF orientation applied (a phone's rotated JPEG stands upright);
2. to 8-bit grayscale, by mode: 16-bit (I;16, I) scaled from 0..65535 (not clipped), F read as 0..1, 1 as
   0/255, L as is, P through its palette, RGB and CMYK (via RGB) by ITU-R 601-2 luma; with an alpha channel
   (LA, PA, RGBA, P with transparency) composited onto the paper: black, or white with `dark_on_light`;
3. ink bright on dark, as MNIST: with `dark_on_light` (scans of pen on paper) every value v becomes 255 - v;
4. pad to a square with black (0), the image centred, so the aspect ratio is kept;
5. resize to 28x28 with area averaging (Pillow's BOX filter): each output pixel is the mean of the
   source pixels it covers, so thin strokes fade rather than vanish.
An image that comes out blank (one value) while its source is not is an error, never a silent black square:
ink only in the alpha channel on a dark-paper set is the usual cause.

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
    """Encoded image bytes -> uint8[28, 28] by the rule above; ImageError if it cannot be decoded, is empty,
    or loses all its content in the conversion."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise ImageError("empty file; expected a PNG or JPEG image")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            gray, varied = to_gray(img, paper=255 if dark_on_light else 0)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"cannot decode ({e}); expected a PNG or JPEG image") from e
    if gray.size == 0:
        raise ImageError("image has no pixels; expected at least 1x1")
    if varied and gray.min() == gray.max():
        raise ImageError(f"blank after conversion (every pixel {gray.min()}) though the {img.mode} source is not; "
                         f"expected ink that differs from the {'white' if dark_on_light else 'black'} paper "
                         "(ink only in the alpha channel? see data.datasets.<name>.dark_on_light)")
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


def to_gray(img, paper: int = 0) -> tuple[np.ndarray, bool]:
    """A decoded PIL image of any mode -> (uint8 gray array by rule 2, whether the source varies at all)."""
    mode = img.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        values = np.asarray(img, dtype=np.float64)
        scaled = values / 257.0 if mode != "F" else values * 255.0   # 65535 -> 255; F: 0..1 -> 0..255
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8), bool(values.min() != values.max())
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "PA":
        img = img.convert("RGBA")
    elif mode == "CMYK":
        img = img.convert("RGB")
    bands = np.asarray(img)
    varied = bool(bands.size and bands.min() != bands.max())
    if img.mode in ("LA", "RGBA"):
        alpha = np.asarray(img.getchannel("A"), dtype=np.float64) / 255.0
        luma = np.asarray(img.convert("L"), dtype=np.float64)   # the colour's luma; alpha applied below
        mixed = alpha * luma + (1.0 - alpha) * paper
        return np.clip(np.rint(mixed), 0, 255).astype(np.uint8), varied
    return np.asarray(img.convert("L"), dtype=np.uint8), varied


def is_image_name(name: str) -> bool:
    return name.lower().endswith(EXTENSIONS) and not name.startswith(".")
