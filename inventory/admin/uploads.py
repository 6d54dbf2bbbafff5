"""CSV uploads: upload, preview every line, then apply all of it or nothing."""

import secrets
from collections.abc import Callable

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from ..exceptions import RestockFileInvalid
from ..forms import CsvUploadForm

# -- CSV uploads: upload, preview every line, then apply all of it or nothing -----------

PREVIEW_PAGE_SIZE = 200  # lines (and stock pairs) shown per preview page


class PendingUploads:
    """Uploaded files kept server-side, in the session, between the preview and the confirm.

    The browser carries only a random token: what is applied is exactly the file that was
    previewed, never content the client could alter. The last few uploads per kind are kept.
    """

    KEEP = 3

    def __init__(self, request, kind: str):
        self.session = request.session
        self.key = f"inventory_uploads_{kind}"

    def _kept(self) -> dict:
        return dict(self.session.get(self.key, {}))

    def store(self, *, name: str, text: str) -> str:
        token = secrets.token_urlsafe(16)
        kept = dict(list(self._kept().items())[-(self.KEEP - 1) :])
        kept[token] = {"name": name, "text": text}
        self.session[self.key] = kept
        return token

    def get(self, token: str) -> dict | None:
        return self._kept().get(token)

    def discard(self, token: str) -> None:
        kept = self._kept()
        if kept.pop(token, None) is not None:
            self.session[self.key] = kept


def references_text(references: list[str], limit: int = 10) -> str:
    shown = ", ".join(references[:limit])
    return shown + (f" and {len(references) - limit} more" if len(references) > limit else "")


class CsvImportMixin:
    """ModelAdmin pages to upload a CSV, preview what it would change and apply it whole.

    Upload (POST) validates the whole file: bad rows are all listed and nothing is kept.
    A good file is kept in the session and the browser is sent to its preview (GET,
    paginated); the confirm button POSTs to the same address and applies it.
    """

    import_kind: str  # session namespace and URL path
    import_url_name: str  # <name> is the upload page, <name>_preview the preview
    import_columns: tuple[str, ...]
    import_example: str
    import_title: str
    import_intro = ""
    import_preview_template: str
    import_upload_template = "admin/inventory/csv_upload.html"
    import_parse: Callable[[str], list]

    def import_check_permission(self, request) -> None:
        raise NotImplementedError

    def import_preview_context(self, request, lines: list) -> dict:
        raise NotImplementedError

    def import_apply(self, request, lines: list, *, name: str) -> bool:
        """Apply the lines and tell the user how it went; False when nothing was applied."""
        raise NotImplementedError

    def import_done_url(self, request) -> str:
        raise NotImplementedError

    def import_urls(self) -> list:
        site = self.admin_site
        return [
            path(f"{self.import_kind}/", site.admin_view(self.import_upload_view), name=self.import_url_name),
            path(
                f"{self.import_kind}/<str:token>/",
                site.admin_view(self.import_preview_view),
                name=f"{self.import_url_name}_preview",
            ),
        ]

    def _parse(self, text: str) -> list:
        return self.import_parse(text)

    def _import_context(self, request, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "has_view_permission": self.has_view_permission(request),
            "upload_url": reverse(f"admin:{self.import_url_name}"),
            "columns": self.import_columns,
            "example": self.import_example,
            "intro": self.import_intro,
            **extra,
        }

    def _render_upload(self, request, form, *, row_errors: list[str], stale_name: str = ""):
        context = self._import_context(
            request,
            title=self.import_title,
            form=form,
            row_errors=row_errors,
            stale_name=stale_name,
            max_bytes=CsvUploadForm.MAX_BYTES,
        )
        return TemplateResponse(request, self.import_upload_template, context)

    def import_upload_view(self, request):
        self.import_check_permission(request)
        form = CsvUploadForm(request.POST or None, request.FILES or None, parse=self._parse)
        if request.method == "POST" and form.is_valid():
            name = form.cleaned_data["file"].name
            token = PendingUploads(request, self.import_kind).store(name=name, text=form.cleaned_data["text"])
            return redirect(reverse(f"admin:{self.import_url_name}_preview", args=[token]))
        return self._render_upload(request, form, row_errors=form.row_errors)

    def import_preview_view(self, request, token: str):
        self.import_check_permission(request)
        uploads = PendingUploads(request, self.import_kind)
        pending = uploads.get(token)
        if pending is None:
            self.message_user(
                request,
                "That upload was already applied or has expired; nothing was applied now. "
                "Upload the file again to see its preview.",
                messages.WARNING,
            )
            return redirect(reverse(f"admin:{self.import_url_name}"))
        try:
            lines = self._parse(pending["text"])
        except RestockFileInvalid as exc:
            # Sources or products changed since the upload: the file is rejected whole.
            uploads.discard(token)
            form = CsvUploadForm(parse=self._parse)
            return self._render_upload(request, form, row_errors=exc.errors, stale_name=pending["name"])
        if request.method == "POST":
            if not self.import_apply(request, lines, name=pending["name"]):
                return redirect(request.path)
            uploads.discard(token)
            return redirect(self.import_done_url(request))
        context = self._import_context(
            request,
            title=f"{self.import_title}: preview",
            file_name=pending["name"],
            **self.import_preview_context(request, lines),
        )
        return TemplateResponse(request, self.import_preview_template, context)
