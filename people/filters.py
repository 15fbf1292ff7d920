"""Turning request parameters into :class:`people.selectors.PersonCriteria`: a FilterSet for the
API (it also documents the parameters in the OpenAPI schema) and a form for the people page.

The two differ only in the owner filter: the page offers "mine" (a seller's default), "all" and
each seller; the API takes an owner email or ``me`` and lists everyone's people without one.
"""

from __future__ import annotations

from urllib.parse import urlencode

import django_filters
from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from accounts.models import User
from accounts.selectors import seller_choices
from salesactions.api import IdFilter, StrictFilterSet

from .models import Person
from .selectors import SORT_CHOICES, SORTS, PersonCriteria, person_list, person_sources


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0); anything else is an error rather than "no filter"."""

    widget = forms.TextInput  # hands over the raw text (the select widget maps junk to None)

    def to_python(self, value):
        if value in (None, ""):
            return None
        parsed = {"true": True, "1": True, "false": False, "0": False}.get(str(value).lower())
        if parsed is None:
            raise forms.ValidationError(_('Use "true" or "false".'), code="invalid")
        return parsed

    def validate(self, value):
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class PersonFilterSet(StrictFilterSet):
    """The API's list filters; every one narrows, and they combine with AND."""

    search = django_filters.CharFilter(
        method="_criteria", max_length=200,
        help_text="Text in the first name, last name, email or company, ignoring case "
                  '(e.g. "olivia smith", "acme", "@example.org").')
    owner = django_filters.CharFilter(
        method="_criteria", max_length=255,
        help_text='The sales owner\'s email, or "me" for the people you own.')
    company = django_filters.CharFilter(
        method="_criteria", max_length=255, help_text="The company, exactly but ignoring case.")
    source = django_filters.CharFilter(
        method="_criteria", max_length=255, help_text='The lead source, e.g. "Webinar".')
    unsubscribed = StrictBooleanFilter(
        method="_criteria",
        help_text="true: only people with an unsubscribe in force; false: only the others.")
    marketo_id = IdFilter(method="_criteria", help_text="The Marketo lead id.")
    email = django_filters.CharFilter(
        method="_criteria", max_length=255, help_text="The email address, exactly but "
                                                      "ignoring case.")

    class Meta:
        model = Person
        fields: list[str] = []

    def _criteria(self, queryset, name, value):
        # Filtering happens once for all parameters, in filter_queryset().
        return queryset

    def filter_queryset(self, queryset):
        return person_list(self.criteria())

    def criteria(self) -> PersonCriteria:
        """The validated parameters (call ``is_valid()`` first)."""
        data = self.form.cleaned_data
        owner = (data.get("owner") or "").strip().lower()
        if owner == "me":
            owner = self.request.user.email.lower() if self.request else ""
        marketo_id = data.get("marketo_id")
        return PersonCriteria(
            search=data.get("search") or "", owner_email=owner,
            company=(data.get("company") or "").strip(), source=data.get("source") or "",
            unsubscribed=data.get("unsubscribed"),
            marketo_id=int(marketo_id) if marketo_id is not None else None,
            email=(data.get("email") or "").strip())


OWNER_MINE = "mine"
OWNER_ALL = "all"


def _owner(value: str) -> str:
    value = value.strip().lower()
    if value in (OWNER_MINE, OWNER_ALL) or "@" in value:
        return value
    raise forms.ValidationError(_("Choose an owner from the list."), code="invalid_choice")


class PersonSearchForm(forms.Form):
    """The people page's search and filters. Unknown or malformed values fall back to the
    defaults instead of failing the page (they come from hand-edited or old links).

    Owner and source are validated without their lists of choices (any owner email, any
    source): the lists cost queries and only the full page, not a live search, shows them."""

    search = forms.CharField(required=False, max_length=200, label=gettext_lazy("Search"))
    owner = forms.CharField(required=False, max_length=255, label=gettext_lazy("Owner"),
                            validators=[_owner])
    company = forms.CharField(required=False, max_length=255, label=gettext_lazy("Company"))
    source = forms.CharField(required=False, max_length=255,
                             label=pgettext_lazy("lead source", "Source"))
    unsubscribed = forms.ChoiceField(
        required=False, label=gettext_lazy("Unsubscribed"),
        choices=[("", pgettext_lazy("filter", "Any")),
                 ("no", gettext_lazy("Not unsubscribed")),
                 ("yes", gettext_lazy("Unsubscribed"))])
    sort = forms.ChoiceField(required=False, choices=[(value, value) for value in SORT_CHOICES])

    def __init__(self, data, *, user: User):
        super().__init__(data)
        self.user = user

    def owner_choices(self) -> list[tuple[str, str]]:
        """"My people", "Everyone", then each seller (and the chosen owner, if not a user)."""
        owners = dict(seller_choices())
        chosen = self.selected_owner
        if "@" in chosen and chosen not in owners:
            # An owner who is not a user of the app (their people still have them as owner).
            owners[chosen] = chosen
        owners.pop(self.user.email.lower(), None)
        return [(OWNER_MINE, _("My people")), (OWNER_ALL, _("Everyone")), *owners.items()]

    def source_choices(self) -> list[tuple[str, str]]:
        sources = person_sources()
        chosen = self.value("source")
        if chosen and chosen not in sources:
            sources = [*sources, chosen]
        return [("", pgettext("filter", "Any")), *((source, source) for source in sources)]

    def unsubscribed_choices(self) -> list[tuple[str, str]]:
        return self.fields["unsubscribed"].choices

    @property
    def default_owner(self) -> str:
        return OWNER_MINE if not self.user.is_admin and self.user.email else OWNER_ALL

    def value(self, name: str, default=""):
        """The cleaned value of a field, or ``default`` when it is missing or not valid."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        return self.cleaned_data.get(name) or default

    @property
    def selected_owner(self) -> str:
        if (self.data.get("owner") or "").strip().lower() == self.user.email.lower() != "":
            return OWNER_MINE
        owner = self.value("owner", self.default_owner).strip().lower()
        if owner == OWNER_MINE and not self.user.email:
            return OWNER_ALL
        return owner

    @property
    def selected_sort(self) -> str:
        return self.value("sort", "name")

    def criteria(self) -> PersonCriteria:
        owner = self.selected_owner
        owner_email = {OWNER_ALL: "", OWNER_MINE: self.user.email.lower()}.get(owner, owner)
        unsubscribed = {"yes": True, "no": False}.get(self.value("unsubscribed"))
        return PersonCriteria(search=self.value("search").strip(), owner_email=owner_email,
                              company=self.value("company").strip(),
                              source=self.value("source"), unsubscribed=unsubscribed)

    def filter_pairs(self) -> list[tuple[str, str]]:
        """The list's valid filters (owner always, the others when set) as query pairs: what a
        bulk action on the list carries along, and what a saved view keeps with the sort."""
        pairs = [("owner", self.selected_owner)]
        pairs += [(name, self.value(name)) for name in ("search", "company", "source",
                                                        "unsubscribed") if self.value(name)]
        return pairs

    def view_query(self) -> str:
        """This list as a saved view keeps it: the filters and the sort, in a fixed order (so
        the list shown can be recognised as a saved view)."""
        pairs = self.filter_pairs()
        if self.selected_sort != "name":
            pairs.append(("sort", self.selected_sort))
        return urlencode(pairs)

    @property
    def chosen(self) -> dict:
        """The valid values of the text and choice fields, to show them back in the form."""
        return {name: self.value(name) for name in ("search", "company", "source",
                                                    "unsubscribed")}

    @property
    def filtered(self) -> bool:
        """Whether anything beyond the default owner narrows the list."""
        criteria = self.criteria()
        return bool(criteria.search or criteria.company or criteria.source
                    or criteria.unsubscribed is not None)


#: The people list's columns after the name (always first), in the order they show.
LIST_COLUMNS = {"company": gettext_lazy("Company"), "title": pgettext_lazy("job title", "Title"),
                "email": gettext_lazy("Email"), "phone": gettext_lazy("Phone"),
                "source": pgettext_lazy("lead source", "Source"),
                "owner": gettext_lazy("Owner"), "updated": gettext_lazy("Last updated")}
DEFAULT_COLUMNS = ("company", "title", "email", "owner", "updated")


def columns_clean(keys) -> tuple[str, ...]:
    """The known column keys among ``keys``, in the list's order."""
    keys = set(keys)
    return tuple(key for key in LIST_COLUMNS if key in keys)


def sort_columns(sort: str, columns=DEFAULT_COLUMNS) -> list[dict]:
    """The list's header: the name, then ``columns``; a sortable one with the sort its header
    link switches to and its current ``aria-sort``. A first click sorts up, except "last
    updated" (newest first)."""
    headers = []
    for key in ("name", *columns):
        label = SORTS[key].label if key in SORTS else LIST_COLUMNS[key]
        if key not in SORTS:
            headers.append({"key": key, "label": label, "next_sort": "", "aria_sort": ""})
            continue
        current = sort.removeprefix("-") == key
        descending = sort.startswith("-")
        if current:
            next_sort = key if descending else f"-{key}"
            aria = "descending" if descending else "ascending"
        else:
            next_sort = f"-{key}" if key == "updated" else key
            aria = ""
        headers.append({"key": key, "label": label, "next_sort": next_sort,
                        "aria_sort": aria})
    return headers


def sort_choices() -> list[tuple[str, str]]:
    """Every sort order with words for the sort menu (the header links do the same on a wide
    screen)."""
    choices = []
    for key in SORTS:
        ascending, descending = _SORT_WORDS[key]
        if key == "updated":
            choices += [(f"-{key}", str(descending)), (key, str(ascending))]
        else:
            choices += [(key, str(ascending)), (f"-{key}", str(descending))]
    return choices


#: Each sort's two directions in words, whole (word order differs between languages).
_SORT_WORDS = {
    "name": (gettext_lazy("Name, A to Z"), gettext_lazy("Name, Z to A")),
    "company": (gettext_lazy("Company, A to Z"), gettext_lazy("Company, Z to A")),
    "title": (pgettext_lazy("job title", "Title, A to Z"),
              pgettext_lazy("job title", "Title, Z to A")),
    "email": (gettext_lazy("Email, A to Z"), gettext_lazy("Email, Z to A")),
    "owner": (gettext_lazy("Owner, A to Z"), gettext_lazy("Owner, Z to A")),
    "updated": (gettext_lazy("Last updated, oldest first"),
                gettext_lazy("Last updated, newest first")),
}
