"""Paging long lists without counting or skipping over the whole scope.

At province scale a county-staff user's lists hold millions of rows: a `COUNT(*)` over all of
them on every page, and a deep `OFFSET`, are what a page costs. Two kinds of page instead:

- `keyset_page`: a cursor on the list's order (say `-date, -pk`). "下一页" asks for the rows after
  the last one shown, "上一页" for those before the first; the database walks an index from the
  cursor, however deep, and a row added meanwhile never shifts a page. No page numbers.
- `bounded_page`: Django's Paginator over at most `COUNT_LIMIT` rows, for lists whose order is
  not a usable key (a computed column, a join): page numbers, but never an offset past the limit;
  narrowing the filters reaches the rest.

Both count at most `COUNT_LIMIT + 1` rows: "共 N 条", or "超过 N 条" past the limit. A cursor or
page number that does not parse is the first page, never an error.
"""

import base64
import binascii
import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q

COUNT_LIMIT = 1000
# Query parameters that belong to paging or exporting, not to the list's filters.
PAGING_PARAMS = ("page", "after", "before", "export")


@dataclass
class ListPage:
    """One page of a list, as the templates show it (`pairings/_pager.html`)."""

    object_list: list
    count: int | None  # rows in the list, at most COUNT_LIMIT (None: not counted)
    more: bool  # more than `count` rows
    next_query: str = ""  # the query string of the next page ("" when there is none)
    previous_query: str | None = None  # of the previous page (None: none; "" is the first page)
    label: str = ""  # "第 2 / 7 页" where pages have numbers

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self):
        return len(self.object_list)

    @property
    def has_next(self):
        return bool(self.next_query)

    @property
    def has_previous(self):
        return self.previous_query is not None

    @property
    def has_other_pages(self):
        return self.has_next or self.has_previous


def filter_query(request):
    """The request's query string without paging and export: the list's filters alone."""
    query = request.GET.copy()
    for name in PAGING_PARAMS:
        query.pop(name, None)
    return query


def _with(query, **params):
    query = query.copy()
    for name, value in params.items():
        query[name] = value
    return query.urlencode()


def bounded_count(queryset, limit=None):
    """How many rows, counting at most `limit + 1`: (count up to limit, whether there are more)."""
    limit = COUNT_LIMIT if limit is None else limit
    count = queryset.order_by()[: limit + 1].count()
    return min(count, limit), count > limit


# --- keyset ---------------------------------------------------------------------------------------


def _field(model, name):
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


def _encode(values):
    text = json.dumps([v.isoformat() if hasattr(v, "isoformat") else str(v) for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor, model, names):
    """The key values a cursor holds, or None when it is not one of this list's cursors."""
    if not cursor or len(cursor) > 500:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(names):
            return None
        if not all(isinstance(v, str) for v in values):
            return None
        key = []
        for name, value in zip(names, values, strict=True):
            field = _field(model, name)
            key.append(field.to_python(value))
            field.run_validators(key[-1])  # an id past the column's range, say
    except (ValueError, TypeError, ValidationError, binascii.Error, OverflowError):
        return None
    return None if any(v is None for v in key) else key


def _beyond(ordering, key):
    """Rows after `key` in `ordering` (each "name" or "-name"): the lexicographic comparison
    written so that the database can start an index range at the first column."""
    names = [o.removeprefix("-") for o in ordering]
    ops = ["lt" if o.startswith("-") else "gt" for o in ordering]
    q = Q()
    for i in range(len(ordering)):
        equal = dict(zip(names[:i], key[:i], strict=True))
        q |= Q(**equal, **{f"{names[i]}__{ops[i]}": key[i]})
    first = f"{names[0]}__{ops[0][0]}te"  # lte / gte: the index range
    return Q(**{first: key[0]}) & q


def _flip(ordering):
    return [o.removeprefix("-") if o.startswith("-") else f"-{o}" for o in ordering]


def keyset_page(queryset, request, *, ordering, size, count_queryset=None, counted=True, wide=None):
    """A page of `queryset` in `ordering`, after or before the cursor in the request.

    `ordering` names fields of the model itself (no joins, no nulls) and ends in a unique one
    (usually "-pk"), so that the key is unique. `count_queryset` is what to count when the
    listed queryset carries aggregates (a count of a grouped query counts groups the slow way);
    `counted=False` for a list that shows no count.
    `wide`: the same rows, with no join and the filters that would pick another index tested
    row by row, for a list whose filters' own index serves a narrow list but not a wide one
    (the activities of a whole county's pairings). When the count passes COUNT_LIMIT, the
    page's keys are found on it by walking the order's index, which reaches the page after
    about size × (table ÷ list) rows, and the rows shown are then read by those keys (one query
    more). At or under the limit the filters' index reads at most COUNT_LIMIT rows.
    Queries: the bounded count and the rows (a "上一页" that reaches the start re-reads the
    first page: one more; a wide list's keys: one more).
    """
    model = queryset.model
    names = [o.removeprefix("-") for o in ordering]
    query = filter_query(request)
    count, more = None, False
    if counted:
        count, more = bounded_count(count_queryset if count_queryset is not None else queryset)
    after = _decode(request.GET.get("after"), model, names)
    before = None if after else _decode(request.GET.get("before"), model, names)

    def read(beyond, order):
        if wide is not None and more:
            keys = list(
                wide.filter(beyond).order_by(*order).values_list("pk", flat=True)[: size + 1]
            )
            return list(queryset.filter(pk__in=keys).order_by(*order))
        return list(queryset.filter(beyond).order_by(*order)[: size + 1])

    if before is not None:
        backwards = _flip(ordering)
        rows = read(_beyond(backwards, before), backwards)
        earlier = len(rows) > size
        rows = rows[:size][::-1]
        if not earlier and len(rows) < size:
            before, rows = None, None  # back at the start: the whole first page
        later = True
    if before is None:
        rows = read(_beyond(ordering, after) if after is not None else Q(), ordering)
        later = len(rows) > size
        rows = rows[:size]
        earlier = after is not None

    def key_of(row):
        return _encode(getattr(row, name) for name in names)

    return ListPage(
        object_list=rows,
        count=count,
        more=more,
        next_query=_with(query, after=key_of(rows[-1])) if later and rows else "",
        previous_query=(
            (_with(query, before=key_of(rows[0])) if rows else query.urlencode())
            if earlier
            else None
        ),
    )


# --- bounded page numbers -------------------------------------------------------------------------


class _BoundedPaginator(Paginator):
    def __init__(self, *args, count, **kwargs):
        super().__init__(*args, **kwargs)
        self._bounded = count

    @property
    def count(self):
        return self._bounded


def bounded_page(queryset, request, *, size, count_queryset=None):
    """A numbered page of `queryset` (already ordered), among at most COUNT_LIMIT rows.

    Queries: the bounded count and the rows. A page number past the last, or not a number, is
    the last or the first page (Paginator.get_page).
    """
    count, more = bounded_count(count_queryset if count_queryset is not None else queryset)
    page = _BoundedPaginator(queryset, size, count=count).get_page(request.GET.get("page"))
    query = filter_query(request)
    return ListPage(
        object_list=list(page.object_list),
        count=count,
        more=more,
        next_query=_with(query, page=page.next_page_number()) if page.has_next() else "",
        previous_query=(
            _with(query, page=page.previous_page_number()) if page.has_previous() else None
        ),
        label=f"第 {page.number} / {page.paginator.num_pages} 页",
    )
