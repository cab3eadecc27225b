"""Kannel, the open-source SMS gateway: notices out through smsbox's ``sendsms``
interface, inbound texts and delivery reports in through two HTTP endpoints.

- MT: :class:`KannelNotifier` sends each notice with ``GET /cgi-bin/sendsms`` (from the
  operator number or the service's access code; UCS-2 for anything that is not
  ASCII), asks for every delivery report (``dlr-mask=31``) on :attr:`KannelConfig.dlr_url`
  with the notice id, and raises :class:`~vas_lifecycle.GatewayError` on a refused or
  failed submission, so the outbox sends the notice again.
- MO: ``GET /kannel/mo?from=%p&to=%P&text=%a&id=%I&charset=%C&coding=%c&token=...``
  (an ``sms-service`` ``get-url``) handles the text with Kannel's message id, in a
  burst with the texts of concurrent requests (one commit for them all): the same id
  handed over twice changes nothing and sends no second reply. It answers
  200 with an empty body; the replies go out as MT through the outbox.
- DLR: ``GET /kannel/dlr?notice=<id>&status=%d&detail=%A&token=...`` records the
  report against the notice (``Lifecycle.record_delivery_report``).

Both endpoints want the shared ``token`` Kannel's configuration puts in its URLs:
whoever can reach them could otherwise forge a subscriber's "yes". The HTTP client
is the standard library's (one GET per notice, with a timeout, is all it needs).
"""

from __future__ import annotations

import hmac
import logging
import urllib.error
import urllib.parse
import urllib.request

import attrs

from vas_lifecycle.errors import (
    GatewayError,
    InvalidArgumentError,
    InvalidMsisdnError,
    UnknownNoticeError,
)
from vas_lifecycle.gateways.group_commit import GroupCommit
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.notices import Notice
from vas_lifecycle.privacy import mask_msisdn, mask_numbers
from vas_lifecycle.records import DeliveryStatus
from vas_lifecycle.sms_channel import short_code
from vas_lifecycle.values import normalize_msisdn
from vas_lifecycle.wsgi import HttpError, Request, Response, Routes

__all__ = ["DLR_STATUS", "KannelConfig", "KannelNotifier", "kannel_endpoints"]

log = logging.getLogger("vas_lifecycle.kannel")

#: Kannel's delivery report types (``%d``) and what each says about a notice.
DLR_STATUS: dict[int, DeliveryStatus] = {
    1: DeliveryStatus.DELIVERED,
    2: DeliveryStatus.FAILED,
    4: DeliveryStatus.BUFFERED,
    8: DeliveryStatus.SUBMITTED,
    16: DeliveryStatus.REJECTED,
}
#: charsets Kannel names (``%C``) for texts it passes on as UTF-16 (UCS-2)
_UTF16 = {"UTF-16BE", "UTF-16", "UCS-2", "UCS-2BE", "UNICODEBIG"}
_LATIN1 = {"ISO-8859-1", "LATIN1", "WINDOWS-1252"}
MIN_TOKEN = 16


def _token(value: str) -> str:
    if not isinstance(value, str) or len(value) < MIN_TOKEN or not value.isascii():
        raise InvalidArgumentError(
            f"the gateway token must be at least {MIN_TOKEN} ASCII characters"
        )
    return value


@attrs.frozen(kw_only=True)
class KannelConfig:
    """Where smsbox listens and how to reach us back.

    Args:
        sendsms_url: smsbox's ``sendsms`` address.
        username, password: a ``sendsms-user`` of smsbox.
        dlr_url: this service's ``/kannel/dlr`` address as Kannel reaches it, or None
            to ask for no delivery reports.
        token: the shared secret Kannel puts in the MO and DLR URLs.
        timeout: seconds to wait for smsbox.
        smsc: the ``smsc-id`` to route through (None: Kannel's routing).
        plus: send numbers with their leading ``+`` (most SMS centres want digits).
    """

    sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    username: str
    password: str = attrs.field(repr=False)
    dlr_url: str | None = None
    token: str = attrs.field(repr=False, converter=_token)
    timeout: float = 5.0
    smsc: str | None = None
    plus: bool = False


class KannelNotifier:
    """Sends notices through smsbox; raising means "not sent, try again later"."""

    def __init__(self, config: KannelConfig) -> None:
        self.config = config
        # no proxies from the environment: smsbox is a local peer
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def query(self, notice: Notice) -> dict[str, str]:
        """The ``sendsms`` parameters for a notice."""
        c = self.config
        to = notice.msisdn if c.plus else notice.msisdn.lstrip("+")
        params = {
            "username": c.username,
            "password": c.password,
            "from": notice.sender,
            "to": to,
            "text": notice.text,
            "charset": "UTF-8",
            "coding": "0" if notice.text.isascii() else "2",
        }
        if c.smsc is not None:
            params["smsc"] = c.smsc
        if c.dlr_url is not None:
            back = urllib.parse.urlencode({"notice": notice.id, "token": c.token})
            params["dlr-mask"] = "31"
            # %d and %A are Kannel's: the report type and the SMS centre's words
            params["dlr-url"] = f"{c.dlr_url}?{back}&status=%d&detail=%A"
        return params

    def send(self, notice: Notice) -> None:
        url = f"{self.config.sendsms_url}?{urllib.parse.urlencode(self.query(notice))}"
        try:
            with self._opener.open(url, timeout=self.config.timeout) as answer:
                status, body = answer.status, answer.read(500)
        except urllib.error.HTTPError as err:
            words = err.read(200).decode("utf-8", "replace").strip()
            raise GatewayError(f"smsbox refused notice {notice.id}: {err.code} {words}") from err
        except (urllib.error.URLError, OSError) as err:
            raise GatewayError(f"smsbox unreachable for notice {notice.id}: {err}") from err
        if not 200 <= status < 300:
            raise GatewayError(f"smsbox answered {status} for notice {notice.id}")
        log.debug("notice %s to smsbox: %s", notice.id, body[:80])


def decode_text(raw: bytes, charset: str | None) -> str:
    """An inbound text as Kannel passed it: UTF-16 when its charset says so, Latin-1
    likewise, else UTF-8; what does not decode becomes U+FFFD (C10 reads the rest)."""
    name = (charset or "UTF-8").upper()
    if name in _UTF16:
        return raw.decode("utf-16-be", "replace")
    if name in _LATIN1:
        return raw.decode("latin-1")
    return raw.decode("utf-8", "replace")


def kannel_endpoints(lifecycle: Lifecycle, token: str, *, burst: int = 100) -> Routes:
    """The WSGI application Kannel calls: ``/kannel/mo`` and ``/kannel/dlr``. Texts
    that arrive together on concurrent requests are handled in bursts of at most
    ``burst``, one commit for each burst
    (:class:`~vas_lifecycle.gateways.group_commit.GroupCommit`; 1: a commit per text)."""
    secret = _token(token)
    texts = GroupCommit(lifecycle, most=burst)

    def check(request: Request) -> None:
        given = request.params.get("token", b"")
        if not hmac.compare_digest(given, secret.encode("ascii")):
            raise HttpError(401, "unauthorized", "a valid token is required")

    def mo(request: Request) -> Response:
        check(request)
        sender = request.text("from")
        to = request.text("to")
        message_id = request.text("id")
        text = decode_text(request.params.get("text", b""), request.text("charset", required=False))
        assert sender is not None and to is not None and message_id is not None
        if not short_code(to):
            raise HttpError(400, "invalid_parameter", "to is not a number")
        try:
            replies = texts.handle_sms(sender, text, to=to, message_id=message_id)
        except InvalidMsisdnError:
            raise HttpError(400, "invalid_msisdn", "from is not a subscriber number") from None
        except InvalidArgumentError as err:
            raise HttpError(400, "invalid_parameter", mask_numbers(str(err))[:200]) from None
        if log.isEnabledFor(logging.INFO):  # the masked number costs a normalisation
            log.info(
                "MO %s from %s to %s: %d repl%s",
                message_id,
                mask_msisdn(normalize_msisdn(sender, lifecycle.regime.country_code)),
                to,
                len(replies),
                "y" if len(replies) == 1 else "ies",
            )
        return Response(200)

    def dlr(request: Request) -> Response:
        check(request)
        notice_id = request.text("notice")
        kind = request.text("status")
        detail = request.params.get("detail", b"").decode("utf-8", "replace")
        assert notice_id is not None and kind is not None
        status = DLR_STATUS.get(int(kind)) if kind.isdigit() and len(kind) < 4 else None
        if status is None:
            raise HttpError(400, "invalid_status", "status is one of 1, 2, 4, 8, 16")
        try:
            lifecycle.record_delivery_report(notice_id, status, detail=detail)
        except UnknownNoticeError:
            raise HttpError(404, "unknown_notice") from None
        except InvalidArgumentError as err:
            raise HttpError(400, "invalid_parameter", str(err)[:200]) from None
        return Response(200)

    return Routes([("GET", "/kannel/mo", mo), ("GET", "/kannel/dlr", dlr)])
