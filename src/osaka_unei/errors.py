"""The project's errors: one tree, one line each for the user, one exit code per kind.

Every failure the user can act on is an ``OsakaUneiError``; its kind (a direct subclass
below) says what to do about it, and ``EXIT_CODES`` (the one table, which the CLI and the
README use) gives the command's exit code. The message is one line, printed as
``error: MESSAGE``. Anything else that escapes a command is a bug: the CLI prints it as an
internal error (exit 70) with the ``--debug`` hint.

A kind that replaced a bare ``ValueError`` (or ``FileNotFoundError``) is also one, so that
code catching those keeps working. Classes defined next to the code that raises them
(``CheckError`` aside) subclass a kind here: ``fetch.client.Unreachable`` and ``Refused``
(SiteError), ``publish.atomic.Busy`` (BusyError), ``analysis.themes.CodebookError`` and
``OverrideError`` (CuratedFileError), ``published.NotWhole`` (StoreError),
``views.text.DatasetError`` (NotBuiltError).
"""

from __future__ import annotations


class OsakaUneiError(Exception):
    """Root of every error this project raises on purpose; the message is one line."""


# --- kinds: what the user can do about it ------------------------------------------------


class BadInputError(OsakaUneiError, ValueError):
    """An argument, an input file or a page is not what the command takes: fix the input."""


class NotBuiltError(OsakaUneiError, FileNotFoundError):
    """The published dataset (or a file of it) is not there: run `make all` first."""


class StoreError(OsakaUneiError, ValueError):
    """The raw store, its manifest or the published folder is not in a usable state (the
    CLI reports an OSError naming a path, such as a folder that is a file, with this code)."""


class CuratedFileError(OsakaUneiError, ValueError):
    """A hand-kept data file (theme codebook, overrides) is wrong: fix that file."""


class SiteError(OsakaUneiError):
    """The city's site (or the mirror) could not be reached, or its answer was refused."""


class FetchFailedError(OsakaUneiError):
    """A fetch run ended without success: every page failed, or too many in a row."""


class CheckError(OsakaUneiError):
    """A build check failed (duplicate keys, a shrinking ward, …): nothing was published."""


class BusyError(OsakaUneiError):
    """Another build or report held the checkout's lock for too long: try again later."""


class InternalError(OsakaUneiError):
    """A fault of ours that the user cannot fix, found by a check of our own."""


# --- pages: a page that cannot be parsed at all ------------------------------------------


class PageError(BadInputError):
    """A page that cannot be parsed at all; the message is one line for the user."""


class EmptyInputError(PageError):
    """The input holds nothing but white space."""


class UndecodableInputError(PageError):
    """The input's bytes are no text the parser can read."""


class NotAPolicyPageError(PageError):
    """The page is not a 運営方針 page at all."""


class NotAWardPageError(PageError):
    """A 運営方針 page, but of a bureau (局, 室), not of one of the 24 wards."""


# --- the one table of exit codes ---------------------------------------------------------

INTERNAL_ERROR_EXIT = 70  # EX_SOFTWARE: a bug, not the user's doing
USAGE_EXIT = 2  # what click uses for a bad option; our bad input shares it

# Kind → exit code; exit_code() takes an error's nearest class in its MRO.
EXIT_CODES: dict[type[Exception], int] = {
    CheckError: 1,
    FetchFailedError: 1,
    BadInputError: USAGE_EXIT,
    NotBuiltError: USAGE_EXIT,
    StoreError: USAGE_EXIT,
    CuratedFileError: USAGE_EXIT,
    BusyError: 3,
    SiteError: 4,
    InternalError: INTERNAL_ERROR_EXIT,
    OsakaUneiError: USAGE_EXIT,
}


def exit_code(error: OsakaUneiError | type[OsakaUneiError]) -> int:
    """The exit code of an error (or of a kind): its nearest class in EXIT_CODES."""
    kind = error if isinstance(error, type) else type(error)
    for cls in kind.__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return INTERNAL_ERROR_EXIT
