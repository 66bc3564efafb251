"""Sending e-mail through `SMTP_URL`: smtps://host:465 (TLS from the start), or smtp://host:25?starttls=1
(upgraded to TLS), or plain smtp:// for a relay on the same machine.

TLS certificates are verified against the system's CAs (or `SMTP_CA_FILE`), with the host name checked;
a password is sent only over TLS — an smtp:// URL with credentials and no starttls is refused before
anything is sent, so the password never crosses the network in the clear.
"""
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr
from urllib.parse import unquote, urlsplit

from flask import current_app


class MailConfigError(ValueError):
    pass


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=current_app.config.get("SMTP_CA_FILE") or None)


def send_mail(to: str, subject: str, body: str) -> None:
    """Send one plain-text message."""
    url = current_app.config.get("SMTP_URL")
    if not url:
        raise RuntimeError("SMTP_URL is not set")
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise MailConfigError(f"SMTP_URL: unknown scheme {parts.scheme!r}; use smtp:// or smtps://")
    starttls = "starttls=1" in (parts.query or "")
    if parts.username and parts.scheme == "smtp" and not starttls:
        raise MailConfigError("SMTP_URL: a password over plain smtp:// would be sent in the clear; "
                              "use smtps:// or add ?starttls=1")
    msg = EmailMessage()
    msg["From"] = formataddr(("Электронные журналы", current_app.config.get("MAIL_FROM") or "journals@localhost"))
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    host, port = parts.hostname, parts.port or (465 if parts.scheme == "smtps" else 25)
    smtp = (smtplib.SMTP_SSL(host, port, timeout=30, context=_tls_context()) if parts.scheme == "smtps"
            else smtplib.SMTP(host, port, timeout=30))
    with smtp:
        if starttls:
            smtp.starttls(context=_tls_context())
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(msg)
