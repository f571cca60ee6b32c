"""Outgoing email: a console backend for development and SMTP (with a timeout) for production."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from config import Settings

log = logging.getLogger(__name__)


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def send(self, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self._settings.mail_from, to, subject
        message.set_content(text)
        if self._settings.mail_backend == "console":
            log.info("email (console backend)\n%s", message.as_string())
            return
        self._smtp(message)

    def _smtp(self, message: EmailMessage) -> None:
        s = self._settings
        timeout = s.http_timeout_seconds
        if s.smtp_security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=timeout)
        with client:
            if s.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                client.login(s.smtp_username, s.smtp_password)
            client.send_message(message)
