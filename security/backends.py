"""The lockout backend: django-axes in front of every authenticate() that comes with an HTTP request
(the admin, the portal, DRF, any login built on django.contrib.auth)."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            # No HTTP request (a shell, the test client's login()): no remote guesser to lock out;
            # the model backend decides alone. Every web sign-in passes its request.
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
