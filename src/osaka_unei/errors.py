"""The errors a page can raise: one line each, for the user (the CLI prints it as is)."""

from __future__ import annotations


class PageError(Exception):
    """A page that cannot be parsed at all; the message is one line for the user."""


class EmptyInputError(PageError):
    pass


class UndecodableInputError(PageError):
    pass


class NotAPolicyPageError(PageError):
    """The page is not a 運営方針 page at all."""


class NotAWardPageError(PageError):
    """A 運営方針 page, but of a bureau (局, 室), not of one of the 24 wards."""
