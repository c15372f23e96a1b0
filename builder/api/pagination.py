"""The one pagination of every API list: `count`, `next`, `previous`, `results`.

`?page=N` (1 or more) picks a page; a page past the last is a 404. `?page_size=N`
(1 or more) asks for up to API_MAX_PAGE_SIZE rows (default API_PAGE_SIZE); a
larger ask gets API_MAX_PAGE_SIZE. Either parameter when it is not such a whole
number is a 400 naming it (before, `?page_size=null` was silently ignored, which
the schema did not say).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination


def _whole_number(request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise exceptions.ValidationError({name: ["must be a whole number, 1 or more"]})
    return int(raw)


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    page_size_query_description = "Rows per page, 1 or more (at most API_MAX_PAGE_SIZE are sent)."

    @property
    def page_size(self) -> int:
        return settings.REST_FRAMEWORK["PAGE_SIZE"]

    @property
    def max_page_size(self) -> int:
        return settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request) -> int:
        wanted = _whole_number(request, self.page_size_query_param)
        return self.page_size if wanted is None else min(wanted, self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        _whole_number(request, self.page_query_param)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters
