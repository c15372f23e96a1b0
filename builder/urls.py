"""The app's pages (the API lives in builder/api/urls.py)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("workspaces/", views.workspaces, name="workspaces"),
    path("workflows/", views.app, name="workflows"),
    path("failed-runs/", views.app, {"page": "failed-runs"}, name="failed-runs"),
    path("workflows/<uuid:workflow_id>/", views.app, name="workflow-editor"),
]
