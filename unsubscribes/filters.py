"""The unsubscribes API's list filters (they also document the parameters in the schema)."""

import django_filters

from people.filters import StrictBooleanFilter
from salesactions.api import IdFilter, StrictFilterSet

from .models import Unsubscribe
from .selectors import UnsubscribeCriteria, unsubscribe_list


class UnsubscribeFilterSet(StrictFilterSet):
    person = IdFilter(method="_criteria", help_text="The person's id (see people/).")
    source = django_filters.ChoiceFilter(method="_criteria", choices=Unsubscribe.Source.choices,
                                         help_text="Where the unsubscribe came from.")
    in_force = StrictBooleanFilter(method="_criteria",
                                   help_text="true: only those in force; false: only removed "
                                             "ones.")

    class Meta:
        model = Unsubscribe
        fields: list[str] = []

    def _criteria(self, queryset, name, value):
        # Filtering happens once for all parameters, in filter_queryset().
        return queryset

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        person = data.get("person")
        return unsubscribe_list(UnsubscribeCriteria(
            person_id=int(person) if person is not None else None,
            source=data.get("source") or None, in_force=data.get("in_force")))
