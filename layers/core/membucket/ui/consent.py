"""The OAuth consent page, server-rendered in the web UI's style (its stylesheet, no script).

Everything a client chose (its name, redirect URI, state) is escaped; the page is served with
the UI's Content-Security-Policy, whose ``form-action`` also names the client's redirect origin
(browsers apply it to the redirect that follows the form) and ``frame-ancestors 'none'``.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from . import SECURITY_HEADERS

__all__ = ["consent_page", "error_page", "page_headers", "signin_page"]

_SCOPE_TEXT = {
    "read": ("Read", "search, list and read memories"),
    "write": ("Read and write", "also add, edit, archive and delete memories"),
}


def page_headers(redirect_uri: str | None = None) -> dict[str, str]:
    """The UI's security headers, with the client's redirect origin added to form-action."""
    headers = dict(SECURITY_HEADERS)
    headers["cache-control"] = "no-store"
    # Browsers send "Origin: null" with a form posted under no-referrer, which the origin guard
    # refuses; same-origin still tells other sites nothing (the client's redirect included).
    headers["referrer-policy"] = "same-origin"
    if redirect_uri:
        parts = urlsplit(redirect_uri)
        origin = f"{parts.scheme}://{parts.netloc}"
        headers["content-security-policy"] = headers["content-security-policy"].replace(
            "form-action 'self'", f"form-action 'self' {origin}"
        )
    return headers


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(title)} · membucket</title>
  <link rel="icon" href="/ui/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/ui/styles.css">
</head>
<body>
  <header class="top">
    <span class="brand"><img src="/ui/favicon.svg" alt="" width="22" height="22"> membucket</span>
  </header>
  <main id="main" class="consent">
{body}
  </main>
</body>
</html>
"""


def _client_line(client_name: str, redirect_uri: str) -> str:
    host = urlsplit(redirect_uri).netloc
    return (f'<p><strong id="client-name">{escape(client_name)}</strong> '
            f'<span class="muted">(returns to <code>{escape(host)}</code>)</span> asks for access to memories kept here.</p>')


def _error(error: str | None) -> str:
    return f'<p class="error-text" role="alert" id="consent-error">{escape(error)}</p>' if error else ""


def signin_page(*, client_name: str, redirect_uri: str, sealed: str, passphrase: bool, error: str | None = None) -> str:
    """Step 1: the owner signs in (an owner admin token, or the operator passphrase with a user)."""
    label = "Owner admin token or passphrase" if passphrase else "Owner admin token"
    user_field = (
        '<div class="field"><label for="user">User</label>'
        '<input id="user" name="user" autocomplete="username" maxlength="128">'
        '<span class="muted small">With the passphrase: whose memories. With a token: leave empty.</span></div>'
        if passphrase else ""
    )
    body = f"""    <section class="panel stack" aria-labelledby="consent-title">
      <h1 id="consent-title">Connect {escape(client_name)}</h1>
      {_client_line(client_name, redirect_uri)}
      <p>Sign in as the owner to continue.</p>
      {_error(error)}
      <form method="post" action="/authorize" class="stack">
        <input type="hidden" name="request" value="{escape(sealed)}">
        <div class="field"><label for="credential">{label}</label>
          <input id="credential" name="credential" type="password" autocomplete="current-password" required maxlength="512"></div>
        {user_field}
        <div class="row end">
          <button type="submit" name="action" value="deny" class="secondary" formnovalidate>Cancel</button>
          <button type="submit" name="action" value="signin" id="signin">Sign in</button>
        </div>
      </form>
    </section>"""
    return _page(f"Connect {client_name}", body)


def consent_page(*, client_name: str, app: str, redirect_uri: str, sealed: str, user: str, scopes: list[str]) -> str:
    """Step 2: '<client> wants read / write access to the memories of <user>', the owner chooses."""
    options = "".join(
        f'<div class="field inline"><input type="radio" id="scope-{s}" name="scope" value="{s}"'
        f'{" checked" if s == (scopes[-1] if scopes else "write") else ""}>'
        f'<label for="scope-{s}">{_SCOPE_TEXT[s][0]}: <span class="muted">{_SCOPE_TEXT[s][1]}</span></label></div>'
        for s in ("read", "write")
    )
    body = f"""    <section class="panel stack" aria-labelledby="consent-title">
      <h1 id="consent-title">Allow {escape(client_name)}?</h1>
      <p><strong>{escape(client_name)}</strong> wants access to the memories of <strong id="consent-user">{escape(user)}</strong>.
        <span class="muted">Approving sends you back to <code>{escape(urlsplit(redirect_uri).netloc)}</code>.</span></p>
      <form method="post" action="/authorize" class="stack">
        <input type="hidden" name="request" value="{escape(sealed)}">
        <fieldset class="stack"><legend>Access</legend>{options}</fieldset>
        <p class="muted">It acts as the app <strong>{escape(app)}</strong>: that app's access rules, pause and access log apply.
          You can revoke it any time on the Connect page or with <code>membucket token revoke</code>.</p>
        <div class="row end">
          <button type="submit" name="action" value="deny" class="secondary">Deny</button>
          <button type="submit" name="action" value="approve" id="approve">Approve</button>
        </div>
      </form>
    </section>"""
    return _page(f"Allow {client_name}", body)


def error_page(message: str) -> str:
    body = f"""    <section class="panel stack" aria-labelledby="consent-title">
      <h1 id="consent-title">Cannot connect</h1>
      <p class="error-text" id="consent-error">{escape(message)}</p>
      <p class="muted">Start again from the app you were connecting.</p>
    </section>"""
    return _page("Cannot connect", body)
