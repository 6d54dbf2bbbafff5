"""Product pictures: resized once on upload to the widths the pages use, alt text required,
shown lazily with srcset; a product without one shows the placeholder."""

import io
import os
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from catalog.images import product_image_add
from catalog.models import ProductImage
from tests.catalog.factories import ProductFactory
from tests.catalog.test_admin import change_url, product_form_data

pytestmark = pytest.mark.django_db


def picture(width: int, height: int, *, mode: str = "RGB", fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), (200, 80, 40, 128) if mode == "RGBA" else (200, 80, 40)).save(
        buffer, fmt
    )
    return buffer.getvalue()


def stored(media_root: Path, image: ProductImage, width: int) -> Path:
    return media_root / image.rendition_name(width)


def upload_form(product, *, alt: str, data: bytes, name: str = "kettle.png") -> dict:
    form = product_form_data(product)
    form.update(
        {
            "images-TOTAL_FORMS": "1",
            "images-INITIAL_FORMS": "0",
            "images-0-image": SimpleUploadedFile(name, data, content_type="image/png"),
            "images-0-alt": alt,
            "images-0-position": "0",
        }
    )
    return form


def test_an_upload_in_the_admin_is_resized_to_the_page_widths(admin_client, media_root):
    product = ProductFactory()

    response = admin_client.post(
        change_url(product), upload_form(product, alt="A blue kettle", data=picture(1200, 900, mode="RGBA"))
    )

    assert response.status_code == 302
    image = product.images.get()
    assert (image.width, image.height, image.alt) == (1200, 900, "A blue kettle")
    assert image.renditions == [320, 640, 960]
    for width in (320, 640, 960):
        with Image.open(stored(media_root, image, width)) as made:
            assert made.format == "JPEG"
            assert made.size == (width, width * 3 // 4)


def test_a_small_picture_is_never_enlarged(media_root):
    product = ProductFactory()

    image = product_image_add(
        product=product, file=ContentFile(picture(500, 250), name="mug.png"), alt="A mug"
    )

    assert image.renditions == [320, 500]
    with Image.open(stored(media_root, image, 500)) as made:
        assert made.size == (500, 250)
    assert not stored(media_root, image, 640).exists()


def test_the_admin_refuses_a_picture_without_alt_text(admin_client):
    product = ProductFactory()

    response = admin_client.post(change_url(product), upload_form(product, alt="", data=picture(400, 300)))

    assert response.status_code == 200
    formset = next(f for f in response.context["inline_admin_formsets"] if f.formset.prefix == "images")
    assert formset.formset.errors == [{"alt": ["This field is required."]}]
    assert not ProductImage.objects.exists()


def test_the_service_and_the_database_refuse_an_empty_alt_text(media_root):
    product = ProductFactory()

    with pytest.raises(ValidationError) as refused:
        product_image_add(product=product, file=ContentFile(picture(400, 300), name="x.png"), alt="")
    assert "alt" in refused.value.message_dict
    assert not any(media_root.rglob("x*"))  # refused before the file was stored

    image = product_image_add(
        product=product, file=ContentFile(picture(400, 300), name="y.png"), alt="A view"
    )
    with pytest.raises(IntegrityError, match="productimage_alt_required"), transaction.atomic():
        ProductImage.objects.filter(pk=image.pk).update(alt="")


def test_changing_the_alt_text_keeps_the_renditions(admin_client, media_root):
    product = ProductFactory()
    image = product_image_add(
        product=product, file=ContentFile(picture(700, 700), name="lamp.png"), alt="A lamp"
    )
    made = stored(media_root, image, 320)
    os.utime(made, ns=(1, 1))  # mark it: a rendition made again would carry a new time
    form = product_form_data(product)
    form.update(
        {
            "images-TOTAL_FORMS": "1",
            "images-INITIAL_FORMS": "1",
            "images-0-id": str(image.pk),
            "images-0-product": str(product.pk),
            "images-0-alt": "A brass lamp",
            "images-0-position": "0",
        }
    )

    assert admin_client.post(change_url(product), form).status_code == 302
    image.refresh_from_db()
    assert image.alt == "A brass lamp"
    assert made.stat().st_mtime_ns == 1


def test_pages_show_pictures_lazily_with_srcset(client):
    product = ProductFactory(name="Kettle")
    image = product_image_add(
        product=product, file=ContentFile(picture(1000, 750), name="kettle.png"), alt="A blue kettle"
    )
    product_image_add(
        product=product, file=ContentFile(picture(600, 450), name="lid.png"), alt="Its lid", position=1
    )
    base = image.image.storage.url(image.rendition_name(320)).rsplit("-", 1)[0]
    srcset = f'srcset="{base}-320w.jpg 320w, {base}-640w.jpg 640w, {base}-960w.jpg 960w"'

    listing = client.get(reverse("storefront:product_list")).content.decode()
    page = client.get(product.get_absolute_url()).content.decode()

    assert (
        f'src="{base}-320w.jpg" {srcset} sizes="(max-width: 40rem) 100vw, 18rem" alt="A blue kettle"'
        in listing
    )
    assert 'loading="lazy"' in listing and "Its lid" not in listing  # the main picture only
    assert f'src="{base}-640w.jpg" {srcset}' in page
    assert 'alt="A blue kettle" width="1000" height="750" loading="lazy"' in page
    assert 'alt="Its lid"' in page


def test_a_product_without_pictures_shows_the_placeholder(client):
    product = ProductFactory(name="Plain")
    placeholder = '<img class="picture" src="/static/img/placeholder.svg" alt="" width="400" height="300">'

    assert placeholder in client.get(product.get_absolute_url()).content.decode()
    assert placeholder in client.get(reverse("storefront:product_list")).content.decode()


def test_the_placeholder_is_small():
    from django.contrib.staticfiles import finders

    assert os.path.getsize(finders.find("img/placeholder.svg")) < 1024


def test_list_queries_do_not_grow_with_pictures(client, django_assert_num_queries):
    products = ProductFactory.create_batch(3)
    url = reverse("storefront:product_list")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for product in products:
        for n in range(3):
            product_image_add(
                product=product, file=ContentFile(picture(400, 300), name=f"p{n}.png"), alt="A view"
            )
    with django_assert_num_queries(len(few)):
        assert client.get(url).status_code == 200
