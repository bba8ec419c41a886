"""Real servers on loopback for the operating tests: an SMTP server (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from dev.stack.services import free_port


@dataclass
class MailServer:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd calls handle_DATA
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def connection_env(self, sender: str = "airflow@vehicle-photos.test") -> dict[str, str]:
        """`smtp_default` pointing at this server (plain SMTP, no login)."""
        connection = {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": self.port,
            "extra": {"disable_tls": True, "disable_ssl": True, "from_email": sender, "retry_limit": 1},
        }
        return {"AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(connection)}  # fmt: skip

    def wait_for(self, subject_part: str, timeout: float) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if subject_part in message["Subject"]:
                    return message
            time.sleep(0.5)
        raise AssertionError(f"no mail with {subject_part!r} in {[m['Subject'] for m in self.messages]}")


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html", "plain"))
    return part.get_content() if part else ""


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    server = MailServer(free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    yield server
    controller.stop()
