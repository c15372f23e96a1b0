"""The one pagination of every API list: `count`, `next`, `previous`, `results`.

`?page=N` picks a page; `?page_size=N` asks for up to API_MAX_PAGE_SIZE rows
(default API_PAGE_SIZE).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    page_size_query_description = "Rows per page (at most API_MAX_PAGE_SIZE)."

    @property
    def page_size(self) -> int:
        return settings.REST_FRAMEWORK["PAGE_SIZE"]

    @property
    def max_page_size(self) -> int:
        return settings.API_MAX_PAGE_SIZE
