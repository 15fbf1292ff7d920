"""The mailboxes API under ``/api/v1/mailboxes/`` (README "The seller's own mailbox").

A seller connects, reads, changes and disconnects their own mailbox; an admin sees everyone's
(``?user=``) and may change or disconnect any. Another seller's mailbox answers 404. A
password or token is never returned.
"""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from salesactions.api import MAX_ID, IdFilter, JsonTypesMixin, StrictFilterSet

from .models import Mailbox
from .selectors import mailbox_list_for_user
from .services import MailboxRefused, mailbox_connect, mailbox_disconnect, mailbox_update

#: A host name: dot-separated labels of letters, digits and inner hyphens (an IPv4 address is
#: one too). IPv6 literals are not taken: the schema says exactly what the server accepts, and
#: a mail server has a name.
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST = rf"^{LABEL}(?:\.{LABEL})*\.?$"


class MailboxInput(JsonTypesMixin, serializers.Serializer):
    imap_host = serializers.RegexField(HOST, max_length=253,
                                       help_text="The IMAP server, e.g. imap.example.com.")
    imap_port = serializers.IntegerField(min_value=1, max_value=65535,
                                         help_text="993 with tls, 143 with starttls.")
    imap_security = serializers.ChoiceField(choices=Mailbox.Security.choices)
    smtp_host = serializers.RegexField(HOST, max_length=253,
                                       help_text="The SMTP submission server.")
    smtp_port = serializers.IntegerField(min_value=1, max_value=65535,
                                         help_text="465 with tls, 587 with starttls.")
    smtp_security = serializers.ChoiceField(
        choices=Mailbox.Security.choices,
        help_text="none is allowed only for a host on this machine, unless the admin set "
                  "MAILBOX_ALLOW_INSECURE=true.")
    username = serializers.CharField(max_length=254, help_text="The login (usually the address).")
    password = serializers.CharField(max_length=1024, write_only=True, trim_whitespace=False,
                                     style={"input_type": "password"},
                                     help_text="The password or app password; never returned.")


class MailboxOutput(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    user_username = serializers.CharField(source="user.username", read_only=True)
    address = serializers.CharField(read_only=True, help_text="The address mail leaves from.")

    class Meta:
        model = Mailbox
        fields = ["id", "user", "user_username", "address", "provider", "imap_host", "imap_port",
                  "imap_security", "smtp_host", "smtp_port", "smtp_security", "username",
                  "sent_folder", "state", "paused_reason", "paused_at", "connected_at",
                  "last_pass_at", "last_success_at", "last_error", "messages_read",
                  "messages_matched", "replies", "auto_replies", "bounces"]
        read_only_fields = fields


class MailboxFilterSet(StrictFilterSet):
    user = IdFilter(field_name="user_id", help_text="Admins: the seller's user id.")

    class Meta:
        model = Mailbox
        fields: list[str] = []


class MailboxListApi(GenericAPIView):
    """Mailboxes (a seller's own; every seller's for an admin), and connecting yours.

    POST tries the IMAP and the SMTP login first: 201 with the mailbox (a mailbox already
    connected is reconnected with the new settings, and resumes if it was paused); 400 names
    the login that failed in the server's own words (``password`` for a refused login,
    ``imap_host``/``smtp_host`` for a server that cannot be reached) or the security rule.
    """

    serializer_class = MailboxOutput
    filterset_class = MailboxFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Mailbox.objects.none()
        return mailbox_list_for_user(self.request.user)

    @extend_schema(responses=MailboxOutput(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(MailboxOutput(page, many=True).data)

    @extend_schema(request=MailboxInput, responses={201: MailboxOutput})
    def post(self, request):
        data = MailboxInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            mailbox = mailbox_connect(request.user, **data.validated_data)
        except MailboxRefused as refused:
            return Response(refused.errors, status=status.HTTP_400_BAD_REQUEST)
        return Response(MailboxOutput(mailbox).data, status=status.HTTP_201_CREATED)


class MailboxDetailApi(GenericAPIView):
    """One mailbox: read it, change its connection (PATCH: both logins are tried again; a
    password not given is the saved one) or disconnect it (DELETE)."""

    serializer_class = MailboxOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Mailbox.objects.none()
        return mailbox_list_for_user(self.request.user)

    def _mailbox(self, pk: int) -> Mailbox:
        mailbox = self.get_queryset().filter(pk=pk).first() if pk <= MAX_ID else None
        if mailbox is None:
            raise Http404(_("No such mailbox."))
        return mailbox

    @extend_schema(responses=MailboxOutput)
    def get(self, request, pk: int):
        return Response(MailboxOutput(self._mailbox(pk)).data)

    @extend_schema(request=MailboxInput(partial=True), responses=MailboxOutput)
    def patch(self, request, pk: int):
        mailbox = self._mailbox(pk)
        data = MailboxInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            mailbox = mailbox_update(mailbox, **data.validated_data)
        except MailboxRefused as refused:
            return Response(refused.errors, status=status.HTTP_400_BAD_REQUEST)
        return Response(MailboxOutput(mailbox).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        mailbox_disconnect(self._mailbox(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
