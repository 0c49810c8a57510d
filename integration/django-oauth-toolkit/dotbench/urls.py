"""URLs: DOT's own endpoints under /o/ (token/, revoke_token/, introspect/, and its RFC 8414 /
RFC 9728 metadata documents) and the protected test API at /api/me."""

from django.urls import include, path

from .views import Me

urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("api/me", Me.as_view(), name="me"),
]
