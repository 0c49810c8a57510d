"""The protected test API: DOT's own RFC 9728 resource view, so that what authbench judges about
401s and ``WWW-Authenticate`` is DOT's behaviour, not ours.

``ProtectedResourceMetadataView`` answers a missing or invalid bearer token with 401 and a
``WWW-Authenticate: Bearer`` challenge (DOT's plain ``ProtectedResourceView`` answers a bare 403).
"""

from django.http import JsonResponse
from oauth2_provider.views.generic import ProtectedResourceMetadataView


class Me(ProtectedResourceMetadataView):
    www_authenticate_realm = "authbench"

    def get(self, request, *args, **kwargs):
        owner = getattr(request, "resource_owner", None)
        return JsonResponse({"sub": owner.get_username() if owner else None})
