"""The read-only people API under ``/api/v1/`` (SPEC section 10). People change only through the
Marketo sync, so every write method answers 405."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView, RetrieveAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import BasePagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from accounts.permissions import IsAdmin
from salesactions.api import (
    COUNT_SCHEMA,
    MAX_ID,
    JsonTypesMixin,
    page_size_from,
    page_size_parameter,
)
from salesactions.throttling import ScopedUserThrottle

from .export import person_csv_lines, person_ndjson_lines
from .filters import PersonFilterSet, PersonSearchForm
from .list_cache import people_list_cached
from .marketo_panel import MarketoPanel, person_marketo_activities
from .models import Person, SavedView
from .selectors import (
    EXPORT_FIELDS,
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    SORT_CHOICES,
    InvalidCursor,
    PersonCriteria,
    person_count,
    person_export_rows,
    person_get,
    person_page,
    saved_views_visible,
)
from .services import VIEW_NAME_MAX, saved_view_create, saved_view_delete

TOO_MANY = OpenApiResponse(description="Too many requests for this user; the Retry-After header "
                                       "says when to try again.")


class MarketoActivitiesThrottle(ScopedUserThrottle):
    """Each uncached call spends Marketo API calls, which the whole instance shares
    (``API_THROTTLE_MARKETO_ACTIVITIES``)."""

    scope = "marketo_activities"


#: How people/ counts, for the OpenAPI description (README "API rules" says the same).
PEOPLE_COUNT_RULE = (
    "false when count is PostgreSQL's estimate. The count is exact when the planner expects "
    "fewer than 1,000,000 matches; a longer list is the estimate. A list it expects to hold "
    f"{settings.PEOPLE_COUNT_INLINE_LIMIT:,} matches or more (PEOPLE_COUNT_INLINE_LIMIT) is "
    f"counted in the request for at most {settings.PEOPLE_COUNT_INLINE_MS} ms "
    "(PEOPLE_COUNT_INLINE_MS); a count that takes longer answers the estimate while a "
    "background worker counts it. From then on, until the people data next changes (a sync "
    "pass), every page, order and user of the same filters gets the exact count. Asking again "
    "a moment later gives it.")


class PersonCursorPagination(BasePagination):
    """Keyset pages (see ``people.selectors.person_page``): ``next``/``previous`` are links with
    an opaque ``cursor``; deep pages cost what the first does. Sorted by ``ordering``.

    It pages search criteria, not a queryset (a search reads matches in two steps), so
    ``PersonListApi`` calls :meth:`paginate_criteria` instead of ``paginate_queryset``."""

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"

    def paginate_criteria(self, criteria: PersonCriteria, request) -> list[Person]:
        params = request.query_params
        ordering = params.get(self.ordering_query_param, "name")
        if ordering not in SORT_CHOICES:
            raise ValidationError({self.ordering_query_param: [
                _("Use one of: %(choices)s.") % {"choices": ", ".join(SORT_CHOICES)}]})
        size = page_size_from(request, PAGE_SIZE, MAX_PAGE_SIZE, self.page_size_query_param)
        try:
            self.page = person_page(criteria, sort=ordering,
                                    cursor=params.get(self.cursor_query_param), size=size)
        except InvalidCursor as error:
            raise ValidationError({self.cursor_query_param: [str(error)]}) from None
        self.count = person_count(criteria, self.page, exact_up_to=None)
        self.url = request.build_absolute_uri()
        return self.page.people

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        return replace_query_param(self.url, self.cursor_query_param, cursor)

    def get_paginated_response(self, data):
        return Response({"count": self.count.value, "count_exact": self.count.exact,
                         "next": self._link(self.page.next_cursor),
                         "previous": self._link(self.page.previous_cursor), "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["count", "count_exact", "results"],
            "properties": {
                **COUNT_SCHEMA,
                "count_exact": {**COUNT_SCHEMA["count_exact"], "description": PEOPLE_COUNT_RULE},
                "next": {"type": "string", "nullable": True, "format": "uri",
                         "example": "https://sales.example.com/api/v1/people/?cursor=eyJzIjoi"},
                "previous": {"type": "string", "nullable": True, "format": "uri",
                             "example": None},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.cursor_query_param, "in": "query", "required": False,
             "description": "The page to return: take it from a response's next or previous "
                            "link. Leave it out for the first page.",
             "schema": {"type": "string"}},
            page_size_parameter(PAGE_SIZE, MAX_PAGE_SIZE, "People"),
            {"name": self.ordering_query_param, "in": "query", "required": False,
             "description": "Sort order; a leading minus sorts descending. name is last name "
                            "then first name, owner the owner's last then first name, updated "
                            "the time Marketo last changed the person. Default: name.",
             "schema": {"type": "string", "enum": SORT_CHOICES}},
        ]


def _text(help_text: str):
    return serializers.CharField(read_only=True, help_text=help_text)


class PersonOutput(serializers.Serializer):
    """A person as SPEC section 2 names the fields, plus the owner and unsubscribe state.

    A plain Serializer rather than a ModelSerializer: the list renders fifty of these per
    request, and a ModelSerializer rebuilds its fields from the model every time."""

    id = serializers.IntegerField(read_only=True, help_text="The app's id of the person.")
    marketo_id = serializers.IntegerField(read_only=True, help_text="The Marketo lead id.")
    first_name = _text("First name (Marketo firstName).")
    last_name = _text("Last name (Marketo lastName).")
    email = _text("Email (Marketo email); not unique: duplicates are kept.")
    company = _text("Company (Marketo company).")
    title = _text("Job title (Marketo title).")
    phone = _text("Phone (Marketo phone).")
    linkedin_url = _text("LinkedIn profile URL (Marketo linkedInProfileURL), as Marketo has it.")
    source = _text("Lead source (Marketo leadSource).")
    sfdc_contact_id = _text("Salesforce Contact id (Marketo sfdcContactId).")
    sfdc_lead_id = _text("Salesforce Lead id (Marketo sfdcLeadId).")
    sfdc_account_id = _text("Salesforce Account id (Marketo sfdcAccountId).")
    sfdc_opportunity_id = _text("Salesforce Opportunity id (Marketo sfdcOpptyId).")
    owner_email = _text("The sales owner's email, lower-cased.")
    owner_name = _text("The sales owner's name.")
    unsubscribed = serializers.BooleanField(
        read_only=True, help_text="Whether an unsubscribe is in force for this person.")
    updated_at = serializers.DateTimeField(source="marketo_updated_at", read_only=True,
                                           allow_null=True,
                                           help_text="When Marketo last changed the person.")

    def to_representation(self, instance):
        # The same output as DRF's field-by-field loop, without its per-field machinery (nor
        # the copy of every declared field that touching self.fields makes per request): the
        # other fields are plain attributes and a page has fifty people.
        data = {name: getattr(instance, name) for name in _PLAIN_FIELDS}
        moment = instance.marketo_updated_at
        data["updated_at"] = None if moment is None else _DATETIME.to_representation(moment)
        return data


_PLAIN_FIELDS = tuple(name for name in PersonOutput._declared_fields if name != "updated_at")
_DATETIME = serializers.DateTimeField()


PERSON_EXAMPLE = {
    "id": 1042, "marketo_id": 318, "first_name": "Olivia", "last_name": "Smith",
    "email": "olivia.smith318@example.com", "company": "Acme Corp", "title": "VP Sales",
    "phone": "+1 415-555-0142", "linkedin_url": "https://www.linkedin.com/in/olivia-smith-318",
    "source": "Webinar", "sfdc_contact_id": "003000000000005AAA", "sfdc_lead_id": "",
    "sfdc_account_id": "001000000000001AAA", "sfdc_opportunity_id": "",
    "owner_email": "ava.stone@example.com", "owner_name": "Ava Stone", "unsubscribed": False,
    "updated_at": "2026-10-02T14:03:11Z",
}


class PersonListApi(ListAPIView):
    """People in the workspace (Marketo leads with a sales owner). Every seller can list
    everyone's people; the filters narrow. Read-only."""

    serializer_class = PersonOutput
    filterset_class = PersonFilterSet
    pagination_class = PersonCursorPagination
    # For the schema's filter parameters; listing validates them with the FilterSet itself.
    queryset = Person.workspace.all()

    @extend_schema(
        summary="List people",
        responses={200: PersonOutput(many=True),
                   400: OpenApiResponse(description="A filter, cursor, page size or ordering "
                                                    "is not valid."),
                   429: TOO_MANY},
        # One person: drf-spectacular wraps it into a page using the pagination schema.
        examples=[OpenApiExample("A page of people", value=PERSON_EXAMPLE, response_only=True)])
    def get(self, request, *args, **kwargs):
        # A page whose count is the estimate of a list a worker is counting is not kept: the
        # next request gets the exact count.
        return Response(people_list_cached("api", request, lambda: self._page(request),
                                           keep=lambda page: not self.paginator.count.pending))

    def _page(self, request) -> dict:
        filterset = PersonFilterSet(request.query_params, queryset=self.queryset,
                                    request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        people = self.paginator.paginate_criteria(filterset.criteria(), request)
        return self.paginator.get_paginated_response(PersonOutput(people, many=True).data).data


class PersonDetailApi(RetrieveAPIView):
    """One person in the workspace by the app's id (``marketo_id`` is a list filter)."""

    serializer_class = PersonOutput

    def get_object(self):
        try:
            return person_get(self.kwargs["pk"])
        except Person.DoesNotExist:
            raise NotFound(_("No such person in the workspace.")) from None

    @extend_schema(
        summary="Get a person",
        responses={200: PersonOutput,
                   404: OpenApiResponse(description="No such person in the workspace."),
                   429: TOO_MANY},
        examples=[OpenApiExample("A person", value=PERSON_EXAMPLE, response_only=True)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MarketoActivityOutput(serializers.Serializer):
    id = serializers.IntegerField(source="marketo_id", help_text="Marketo's activity id.")
    occurred_at = serializers.DateTimeField()
    type = serializers.CharField(source="type_name",
                                 help_text='Marketo\'s activity type, e.g. "Open Email".')
    summary = serializers.CharField(help_text="The primary attribute: the email, web page, form "
                                              "or link.")
    detail = serializers.CharField(help_text="One telling attribute, e.g. the clicked link.")
    attributes = inline_serializer("MarketoActivityAttribute", many=True, fields={
        "name": serializers.CharField(), "value": serializers.CharField()})


class MarketoActivitiesOutput(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Activity from this moment on is included.")
    truncated = serializers.BooleanField(
        help_text="true when Marketo holds more activity in that time than is returned.")
    fetched_at = serializers.DateTimeField(help_text="When it was read from Marketo (cached "
                                                     "for a minute).")
    activities = MarketoActivityOutput(many=True, help_text="Newest first.")


class PersonMarketoActivitiesApi(APIView):
    """The person's recent marketing activity, read live from Marketo (emails sent, delivered,
    opened, clicked, bounced; web visits; form fills; link clicks; interesting moments)."""

    throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, MarketoActivitiesThrottle]

    @extend_schema(
        summary="A person's Marketo activity",
        responses={
            200: MarketoActivitiesOutput,
            404: OpenApiResponse(description="No such person in the workspace."),
            503: OpenApiResponse(
                inline_serializer("MarketoUnavailable", fields={
                    "detail": serializers.CharField(),
                    "status": serializers.ChoiceField(choices=[
                        MarketoPanel.NOT_CONNECTED, MarketoPanel.SLOW, MarketoPanel.BUSY,
                        MarketoPanel.UNAVAILABLE])}),
                description="Marketo is not connected, busy (the app's Marketo calls for the "
                            "moment are spent), too slow or failing; Retry-After says when to "
                            "try again. The answer comes within 3 s either way."),
            429: TOO_MANY,
        },
        examples=[OpenApiExample("Recent activity", response_only=True, status_codes=["200"],
                                 value={"since": "2026-05-27T10:00:00Z", "truncated": False,
                                        "fetched_at": "2026-11-23T10:00:00Z", "activities": [{
                                            "id": 5093, "occurred_at": "2026-10-02T14:03:11Z",
                                            "type": "Click Email",
                                            "summary": "Product Launch.Announcement",
                                            "detail": "https://www.example.com/demo",
                                            "attributes": [{"name": "Link",
                                                            "value": "https://www.example.com/"
                                                                     "demo"}]}]}),
                  OpenApiExample("Marketo down", response_only=True, status_codes=["503"],
                                 value={"detail": "Marketo is not available right now, so "
                                                  "marketing activity cannot be shown.",
                                        "status": "unavailable"})])
    def get(self, request, pk):
        person = get_object_or_404(Person.workspace, pk=pk)
        panel = person_marketo_activities(person)
        if not panel.ok:
            return Response({"detail": panel.message, "status": panel.status},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": str(panel.retry_after)})
        return Response(MarketoActivitiesOutput(panel).data)


# --------------------------------------------------------------------------- export


class _ExportRenderer(BaseRenderer):
    """Only names a format for content negotiation; :class:`PersonExportApi` streams the body.
    Errors are answered as JSON (``salesactions.api.api_exception_handler``)."""

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return b""


class CsvRenderer(_ExportRenderer):
    media_type = "text/csv"
    format = "csv"


class NdjsonRenderer(_ExportRenderer):
    media_type = "application/x-ndjson"
    format = "ndjson"


class _ExportNegotiation(DefaultContentNegotiation):
    """An unknown ``?format=`` is a 400 naming the choices (DRF would answer 404)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except Http404:
            raise ValidationError({"format": [_('Use "csv" or "ndjson".')]}) from None


class PersonExportApi(ListAPIView):
    """Every person the filters match (the same filters as ``people/``), in one streamed
    answer, by id: CSV (a header row, then one row per person) or NDJSON (one JSON object per
    line, the fields of ``people/``). ``?format=csv|ndjson`` or the Accept header chooses;
    CSV by default. Admins only. Read from the database in chunks through a server-side
    cursor: memory stays flat for any number of people."""

    permission_classes = [IsAuthenticated, IsAdmin]
    filterset_class = PersonFilterSet
    pagination_class = None
    renderer_classes = [CsvRenderer, NdjsonRenderer]
    content_negotiation_class = _ExportNegotiation
    queryset = Person.workspace.all()  # for the schema's filter parameters

    def perform_content_negotiation(self, request, force=False):
        # OPTIONS describes the endpoint in JSON like every other one; the export formats only
        # stream people.
        if request.method == "OPTIONS":
            return JSONRenderer(), JSONRenderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        summary="Export people (CSV or NDJSON)",
        parameters=[OpenApiParameter(
            "format", str, enum=["csv", "ndjson"], required=False,
            description="csv (default) or ndjson; or send Accept: text/csv or "
                        "application/x-ndjson.")],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=(
                "A header row (" + ",".join(EXPORT_FIELDS) + "), then a row per person.")),
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR, description="One JSON object per line, as in people/."),
            400: OpenApiResponse(description="A filter or the format is not valid."),
            406: OpenApiResponse(description="The Accept header names neither format."),
        })
    def get(self, request, *args, **kwargs):
        filterset = PersonFilterSet(request.query_params, queryset=self.queryset,
                                    request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        rows = person_export_rows(filterset.criteria())
        kind = request.accepted_renderer.format
        lines = person_csv_lines(rows) if kind == "csv" else person_ndjson_lines(rows)
        response = StreamingHttpResponse(
            (text.encode() for text in lines),
            content_type=f"{request.accepted_renderer.media_type}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="people.{kind}"'
        response["X-Accel-Buffering"] = "no"  # a proxy passes it on as it comes
        response["Cache-Control"] = "no-store"
        return response


# --------------------------------------------------------------------------- saved views


class SavedViewOutputSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The people list page with this view.")

    class Meta:
        model = SavedView
        fields = ["id", "name", "shared", "owner", "query", "url", "created_at"]
        extra_kwargs = {
            "owner": {"help_text": "The user id of whoever saved it."},
            "query": {"help_text": "The people list's filters and sort as a query string "
                                   "(search, owner, company, source, unsubscribed, sort)."}}

    def get_url(self, view: SavedView) -> str:
        return reverse("people:list") + (f"?{view.query}" if view.query else "")


class SavedViewInputSerializer(JsonTypesMixin, serializers.Serializer):
    name = serializers.CharField(max_length=VIEW_NAME_MAX)
    shared = serializers.BooleanField(default=False, help_text="Admins only: every seller "
                                                                "sees a shared view.")
    query = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", trim_whitespace=False,
        help_text="The people list's query string, e.g. owner=all&company=Initech&sort=-name "
                  "(search, owner: mine, all or an email, company, source, unsubscribed: yes "
                  "or no, sort: as in people/'s ordering). Stored in a fixed order.")

    def validate_query(self, value: str) -> QueryDict:
        params = QueryDict(value.removeprefix("?"))
        unknown = sorted(set(params) - set(PersonSearchForm.base_fields))
        if unknown:
            raise serializers.ValidationError(
                _("Unknown parameter: %(names)s.") % {"names": ", ".join(unknown)})
        form = PersonSearchForm(params, user=self.context["request"].user)
        if not form.is_valid():
            raise serializers.ValidationError(
                [f"{name}: {' '.join(problems)}" for name, problems in form.errors.items()])
        return form


class SavedViewListApi(GenericAPIView):
    """Saved views of the people list: yours and the shared ones (every view for an admin),
    and saving one (under a name you used: that view is replaced)."""

    serializer_class = SavedViewOutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return SavedView.objects.none()
        return saved_views_visible(self.request.user)

    @extend_schema(summary="List saved views", responses=SavedViewOutputSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(SavedViewOutputSerializer(page, many=True).data)

    @extend_schema(summary="Save a view", request=SavedViewInputSerializer,
                   responses={201: SavedViewOutputSerializer,
                              400: OpenApiResponse(description="A field is not valid (or a "
                                                               "seller asked to share).")})
    def post(self, request):
        serializer = SavedViewInputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            view = saved_view_create(owner=request.user, name=data["name"],
                                     query=data["query"].view_query(), shared=data["shared"])
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        return Response(SavedViewOutputSerializer(view).data, status=status.HTTP_201_CREATED)


class SavedViewDetailApi(GenericAPIView):
    """One saved view: read or delete it (its owner or an admin deletes; another seller's
    private view is not found)."""

    serializer_class = SavedViewOutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return SavedView.objects.none()
        return saved_views_visible(self.request.user)

    def _view(self, pk: int) -> SavedView:
        view = self.get_queryset().filter(pk=pk).first() if pk <= MAX_ID else None
        if view is None:
            raise NotFound(_("No such saved view."))
        return view

    @extend_schema(summary="Read a saved view", responses=SavedViewOutputSerializer)
    def get(self, request, pk: int):
        return Response(SavedViewOutputSerializer(self._view(pk)).data)

    @extend_schema(summary="Delete a saved view",
                   responses={204: None, 403: OpenApiResponse(
                       description="A shared view of another seller.")})
    def delete(self, request, pk: int):
        try:
            saved_view_delete(self._view(pk), by=request.user)
        except DjangoPermissionDenied as error:
            raise PermissionDenied(str(error)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)
