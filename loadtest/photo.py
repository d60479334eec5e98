"""The photo every load-test submission carries: a small JPEG (about 20 KB) made in memory."""

import io

from PIL import Image


def make_photo(width=480, height=360):
    image = Image.new("RGB", (width, height))
    image.putdata(
        [
            ((x * 7) % 256, (y * 5) % 256, ((x + y) * 3) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


PHOTO = make_photo()
