"""``GET /api/v1/sync/health/`` (admins only)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin

from .selectors import sync_health
from .serializers import SyncHealthSerializer


class SyncHealthApi(APIView):
    """Each sync stream's status, lag, throughput, errors, queue depth, the last 24 hours by
    hour, and the API budget used. Read from the database and the budget counters: no call
    to Marketo or Salesforce."""

    permission_classes = [IsAdmin]

    @extend_schema(responses=SyncHealthSerializer)
    def get(self, request):
        return Response(SyncHealthSerializer(sync_health()).data)
