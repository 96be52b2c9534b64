"""The API's token authentication: django-rest-knox's ``TokenAuthentication`` (the same header
``Authorization: Token <key>``, the same look-up by the key's first characters and comparison
of digests, the same expiry, deletion of expired tokens and ``token_expired`` signals, renewal
where ``REST_KNOX["AUTO_REFRESH"]`` asks for it, the same refusals), except that the tokens of
the key are read together with their user and the user's lab membership in one statement
(``backends.tokens_with_staff``), where knox reads the tokens with their users, then the user's
other tokens (to delete the expired ones), and ``access`` then reads the membership. The
membership is handed to ``access`` (:func:`access.staff_remember`), which decides with it.

The other tokens are read, as knox reads them, only where the statement found one of them
expired: knox's own clean-up then runs as it is."""

from __future__ import annotations

import binascii
from hmac import compare_digest
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework import exceptions

from labpanel.accounts import access
from labpanel.accounts.backends import tokens_with_staff


class StaffTokenAuthentication(TokenAuthentication):  # type: ignore[misc]  # knox is untyped
    """knox's token authentication, reading the token, its user and their membership at once."""

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        msg = _("Invalid token.")
        key = token.decode("utf-8")
        for auth_token, staff, others_expired in tokens_with_staff(
            key[: CONSTANTS.TOKEN_KEY_LENGTH], timezone.now()
        ):
            if self._expired(auth_token, others_expired):
                continue
            try:
                digest = hash_token(key)
            except (TypeError, binascii.Error) as error:
                raise exceptions.AuthenticationFailed(msg) from error
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                user, auth = self.validate_user(auth_token)
                access.staff_remember(user, staff)
                return user, auth
        raise exceptions.AuthenticationFailed(msg)

    def _expired(self, auth_token: Any, others_expired: bool) -> bool:
        """knox's ``_cleanup_token``: deletes the user's other expired tokens (read only where
        there is one) and ``auth_token`` when it has expired; whether it had."""
        if others_expired:
            return bool(self._cleanup_token(auth_token))
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False
