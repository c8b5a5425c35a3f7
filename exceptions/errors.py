"""Errors the exception-queue services raise (the app is called ``exceptions``, hence ``errors``).

Both are ``ValidationError`` subclasses, so admin and API code that already turns a
``ValidationError`` into a message keeps working; API views may map ``ItemStateError`` to 409.
"""

from django.core.exceptions import ValidationError


class ItemStateError(ValidationError):
    """The item is not in a state that allows this action (e.g. resolving a dismissed item)."""


class ClaimConflict(ItemStateError):
    """Someone else claimed the item first (or it is no longer open): never two people on one item."""
