"""Product pictures: resized once, on upload, to the widths the storefront shows.

Pillow, not a thumbnail library: the pages need three fixed widths, known at upload, so
they are made then and their names follow from the original's; rendering a page costs no
query or file check (a library such as easy-thumbnails keeps a table of its thumbnails
and looks them up, or makes them on first view).
"""

import io

from django.core.files.base import ContentFile, File
from PIL import Image, ImageOps

from .models import Product, ProductImage

# A card is at most ~18rem wide (320 px, 640 on a 2x screen); the product page ~36rem (640, 960).
RENDITION_WIDTHS = (320, 640, 960)
JPEG_QUALITY = 82


def widths_for(original_width: int) -> list[int]:
    """The rendition widths for an original: each page width it is wider than, and one at its
    own width (at most the widest page width). Never enlarged."""
    widths = [w for w in RENDITION_WIDTHS if w < original_width]
    widest = min(original_width, RENDITION_WIDTHS[-1])
    return widths if widest in widths else [*widths, widest]


def product_image_renditions_make(*, image: ProductImage) -> list[int]:
    """Make (or make again) the renditions of ``image``'s file and record their widths."""
    with image.image.open("rb") as stream, Image.open(stream) as opened:
        picture = ImageOps.exif_transpose(opened)
        if picture.mode != "RGB":
            # JPEG has no transparency: flatten onto white.
            flat = Image.new("RGB", picture.size, "white")
            rgba = picture.convert("RGBA")
            flat.paste(rgba, mask=rgba.getchannel("A"))
            picture = flat
        widths = widths_for(picture.width)
        for width in widths:
            height = max(1, round(picture.height * width / picture.width))
            resized = picture.resize((width, height), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            resized.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
            storage, name = image.image.storage, image.rendition_name(width)
            if storage.exists(name):  # made again: replace, never a renamed copy
                storage.delete(name)
            storage.save(name, ContentFile(buffer.getvalue()))
    image.renditions = widths
    image.save(update_fields=["renditions"])
    return widths


def product_image_add(*, product: Product, file: File, alt: str, position: int = 0) -> ProductImage:
    """Store a picture of ``product`` and its renditions. ``alt`` describes it (required)."""
    image = ProductImage(product=product, alt=alt, position=position)
    image.full_clean(exclude=["image"])  # before the file is stored
    image.image.save(file.name, file, save=False)
    image.save()
    product_image_renditions_make(image=image)
    return image
