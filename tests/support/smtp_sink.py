#!/usr/bin/env python3
"""A real SMTP server for Tipsa's notification tests (aiosmtpd).

Usage: smtp_sink.py PORT DIR [--reject]

Accepts every message on 127.0.0.1:PORT and writes it to DIR as <n>.json: the envelope
(sender, recipients), the headers, the decoded text and HTML parts and the raw message.
With --reject every message is refused with "550 5.7.1 rejected by test server".
Prints READY on stdout once it listens; stops on SIGTERM/SIGINT.
"""
import email
import email.policy
import itertools
import json
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, reject):
        self.directory = directory
        self.reject = reject
        self.counter = itertools.count()

    async def handle_DATA(self, server, session, envelope):
        if self.reject:
            return "550 5.7.1 rejected by test server"
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = {"text": "", "html": ""}
        for part in message.walk():
            kind = part.get_content_type()
            if kind == "text/plain":
                parts["text"] += part.get_content()
            elif kind == "text/html":
                parts["html"] += part.get_content()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "headers": [[k, str(v)] for k, v in message.items()],
            "text": parts["text"],
            "html": parts["html"],
            "raw": raw.decode("utf-8", "replace"),
        }
        name = f"{os.getpid()}-{next(self.counter)}"
        tmp = os.path.join(self.directory, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.directory, name + ".json"))
        return "250 OK"


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    reject = "--reject" in sys.argv[3:]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory, reject), hostname="127.0.0.1", port=port)
    controller.start()
    print("READY", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), sys.exit(0)))
    signal.signal(signal.SIGINT, lambda *_: (controller.stop(), sys.exit(0)))
    signal.pause()


if __name__ == "__main__":
    main()
