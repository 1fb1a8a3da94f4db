"""``qbpa authorize``: connect a QuickBooks company with the OAuth 2.0 authorization-code flow.

Two ways to receive Intuit's redirect, one for each kind of Intuit keys:

* **Local listener** (default; *development* keys, which accept ``http://127.0.0.1``): qbpa
  prints (with ``--open`` opens) the consent URL and listens on
  ``http://127.0.0.1:<port>/callback`` for the browser's redirect.
* **Paste** (``--redirect-uri https://…``; *production* keys, which accept only https URIs that
  are not IP addresses): register any https URI you own in the Intuit app (the page need not
  even load), open the printed consent URL in any browser, and paste the URL the browser was
  sent to (it carries ``code``, ``state`` and ``realmId``) back into the terminal. Works on a
  headless server over SSH.

Either way qbpa checks the CSRF ``state``, exchanges the code, and writes refresh token, access
token, realm id and the refresh token's hard expiry into the token store
(``$QBPA_DATA_DIR/qbo_tokens.json``, mode 0600). A wrong state, a refused consent
(``error=access_denied``), a timeout or an empty paste stores nothing and exits non-zero.
Reads ``QBO_CLIENT_ID``, ``QBO_CLIENT_SECRET``, ``QBO_ENVIRONMENT`` and ``QBO_CA_BUNDLE``.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import http.server
import secrets
import sys
import threading
import time
import webbrowser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse, urlsplit

from qbpa_assets.lib.quickbooks import oauth
from qbpa_assets.lib.quickbooks.errors import QboError
from qbpa_assets.lib.quickbooks.settings import QboSettings
from qbpa_assets.lib.quickbooks.tokens import TokenStore

DEFAULT_PORT = 8765
CALLBACK_PATH = "/callback"


class _CallbackServer(http.server.HTTPServer):
    """Receives exactly one ``/callback`` redirect and keeps its query parameters."""

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _CallbackHandler)
        self.params: dict[str, str] | None = None
        self.received = threading.Event()


class _CallbackHandler(http.server.BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        """Record the callback's query parameters and tell the user to return to the terminal."""
        url = urlparse(self.path)
        if url.path != CALLBACK_PATH:
            self.send_error(404)
            return
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        if self.server.params is None:
            self.server.params = params
            self.server.received.set()
        ok = "code" in params and "error" not in params
        text = (
            "QuickBooks is connected. You can close this window and return to the terminal."
            if ok
            else "QuickBooks authorization did not complete: "
            + html.escape(params.get("error", "no code"))
        )
        body = f"<html><body><p>{text}</p></body></html>".encode()
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the access log (the callback URL carries the authorization code)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qbpa authorize",
        description="Connect a QuickBooks Online company (OAuth 2.0 authorization code).",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"local callback port; the Intuit app's redirect URI must be "
        f"http://127.0.0.1:<port>{CALLBACK_PATH} (default {DEFAULT_PORT}; 0 = any free port)",
    )
    parser.add_argument(
        "--redirect-uri",
        default=None,
        help="paste mode (production keys): the https redirect URI registered in the Intuit "
        "app; you paste the URL the browser was redirected to instead of qbpa listening",
    )
    parser.add_argument("--open", action="store_true", help="open the URL in a browser")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the redirect"
    )
    parser.add_argument(
        "--data-dir", default=None, help="where the token store goes (default $QBPA_DATA_DIR)"
    )
    parser.add_argument(
        "--show-refresh-token",
        action="store_true",
        help="also print the refresh token (to set QBO_REFRESH_TOKEN on another machine)",
    )
    return parser


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _fail(text: str) -> int:
    sys.stderr.write(f"qbpa authorize: {text}\n")
    sys.stderr.flush()
    return 1


def main(argv: list[str] | None = None) -> int:
    """Run the authorization flow; return the process exit code."""
    args = _parser().parse_args(argv)
    settings = QboSettings.from_env(data_dir=args.data_dir)
    try:
        settings.validate(need_realm=False)
    except QboError as exc:
        return _fail(str(exc))

    if args.redirect_uri:
        return _paste(args, settings)
    try:
        server = _CallbackServer(args.port)
    except OSError as exc:
        return _fail(f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror or exc})")
    with contextlib.ExitStack() as stack:
        stack.callback(server.server_close)
        return _run(args, settings, server, stack)


def _run(
    args: argparse.Namespace,
    settings: QboSettings,
    server: _CallbackServer,
    stack: contextlib.ExitStack,
) -> int:
    port = server.server_address[1]
    redirect_uri = f"http://127.0.0.1:{port}{CALLBACK_PATH}"
    try:
        auth = oauth.make_auth_client(settings, redirect_uri=redirect_uri)
    except QboError as exc:
        return _fail(str(exc))
    stack.callback(auth.close)
    state, url = _show_consent(auth, settings, redirect_uri)
    _out(f"Waiting up to {args.timeout:.0f}s for the redirect to {redirect_uri} ...")
    if args.open:
        webbrowser.open(url)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        got = server.received.wait(args.timeout)
    finally:
        # Give the handler a moment to finish answering the browser before shutting down.
        time.sleep(0.05)
        server.shutdown()
        thread.join(timeout=5)
    if not got or server.params is None:
        return _fail(
            f"no redirect reached {redirect_uri} within {args.timeout:.0f}s; nothing was "
            "stored. Check the app's redirect URI and try again."
        )
    return _complete(args, settings, auth, server.params, state)


def consent_url(auth: Any, settings: QboSettings, redirect_uri: str, state: str) -> str:
    """Intuit's consent URL for the accounting scope, with our redirect URI and CSRF state."""
    query = {
        "client_id": settings.client_id,
        "response_type": "code",
        "scope": oauth.ACCOUNTING_SCOPE,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    return f"{auth.auth_endpoint}?{urlencode(query)}"


def _show_consent(
    auth: Any, settings: QboSettings, redirect_uri: str, *, where: str = ""
) -> tuple[str, str]:
    """Print a fresh consent URL to open ``where``; return its CSRF state and the URL."""
    state = secrets.token_urlsafe(24)
    url = consent_url(auth, settings, redirect_uri, state)
    intro = f"Open this URL in a browser{where} and connect your QuickBooks company:"
    for line in (intro, "", f"  {url}", ""):
        _out(line)
    return state, url


def parse_redirect(text: str) -> dict[str, str]:
    """The query parameters of a pasted redirect URL (or of a bare query string)."""
    text = text.strip().strip("'\"<>")
    query = urlsplit(text).query if "?" in text else text
    return {k: v[0] for k, v in parse_qs(query).items()}


def _paste(args: argparse.Namespace, settings: QboSettings) -> int:
    redirect_uri = args.redirect_uri.strip()
    if not redirect_uri.startswith("https://"):
        return _fail(
            "--redirect-uri must be the https:// URI registered in the Intuit app (for an "
            "http://127.0.0.1 URI, development keys only, leave it out: qbpa listens itself)"
        )
    try:
        auth = oauth.make_auth_client(settings, redirect_uri=redirect_uri)
    except QboError as exc:
        return _fail(str(exc))
    try:
        state, url = _show_consent(auth, settings, redirect_uri, where=" (on any machine)")
        _out(f"QuickBooks then sends the browser to {redirect_uri}?code=…&state=…&realmId=…")
        _out("(the page itself need not load). Copy that whole address from the browser and")
        _out("paste it here, then press Enter:")
        if args.open:
            webbrowser.open(url)
        pasted = sys.stdin.readline()
        params = parse_redirect(pasted)
        if not params:
            return _fail("nothing was pasted; nothing was stored. Run `qbpa authorize` again.")
        return _complete(args, settings, auth, params, state)
    finally:
        auth.close()


def _complete(
    args: argparse.Namespace, settings: QboSettings, auth: Any, params: dict[str, str], state: str
) -> int:
    """Check the redirect's state, exchange its code, store the tokens and say what is next."""
    if not secrets.compare_digest(params.get("state", "").encode(), state.encode()):
        return _fail(
            "the redirect's state does not match this request (possible CSRF, or a stale "
            "browser tab); nothing was stored. Run `qbpa authorize` again."
        )
    if "error" in params:
        return _fail(
            f"QuickBooks authorization was refused ({params['error']}); nothing was stored."
        )
    code, realm_id = params.get("code"), params.get("realmId")
    if not code or not realm_id:
        return _fail("the redirect carried no authorization code or realmId; nothing was stored.")

    try:
        grant = oauth.exchange_code(auth, code, realm_id)
        store = TokenStore(settings.token_store_path)
        with store.locked():
            try:
                previous = store.load()
            except QboError:
                previous = None  # an unreadable store is replaced by the new authorization
            saved = store.record_grant(grant, previous=previous, realm_id=realm_id, seed=True)
    except QboError as exc:
        return _fail(f"{exc} Nothing was stored.")

    path = Path(settings.token_store_path).resolve()
    _out("")
    _out(f"Connected QuickBooks company (realm id) {realm_id}.")
    _out(f"Tokens saved to {path} (mode 0600); runs on this machine use them directly.")
    expires_at = saved.refresh_token_expires_at
    if expires_at:
        day = time.strftime("%Y-%m-%d", time.gmtime(expires_at))
        _out(
            f"QuickBooks lets this authorization lapse on {day} unless a refresh extends it; "
            "`qbpa check` shows the date and an alert fires 14 days before."
        )
    _out("Next, set:")
    _out(f"  QBO_REALM_ID={realm_id}")
    if args.show_refresh_token:
        _out(f"  QBO_REFRESH_TOKEN={grant.refresh_token}")
    else:
        _out(
            "  QBO_REFRESH_TOKEN only to seed another machine's token store "
            "(re-run with --show-refresh-token to print it)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
