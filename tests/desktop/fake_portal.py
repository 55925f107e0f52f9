"""A stand-in desktop portal with the GlobalShortcuts interface, for the tests, on whatever
session bus DBUS_SESSION_BUS_ADDRESS names (a private dbus-daemon started by the test).

It follows the specification (org.freedesktop.portal.GlobalShortcuts, version 1): the calls
answer with a Request object path built from the caller's unique name and its handle_token, and
the result comes as that Request's Response signal; sessions live at a path built from
session_handle_token and end with org.freedesktop.portal.Session.Close. Like a desktop, it
chooses the trigger itself: the preferred one, unless started with `--chosen TRIGGER`.

Commands on stdin, one a line: `press ID`, `release ID` (Activated / Deactivated for the
bound session) and `quit`. It reports on stdout, one JSON object a line: {"ready": ...},
{"bound": [...]} with what the app asked for, {"closed": path}.

    DBUS_SESSION_BUS_ADDRESS=... python fake_portal.py [--chosen TRIGGER]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from jeepney import DBusAddress, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.threading import DBusRouter, Proxy, open_dbus_connection
from jeepney.low_level import HeaderFields

BUS_NAME = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
IFACE = "org.freedesktop.portal.GlobalShortcuts"


def say(**what: object) -> None:
    print(json.dumps(what), flush=True)


class Portal:
    def __init__(self, chosen: str | None) -> None:
        self.conn = open_dbus_connection("SESSION")
        self.chosen = chosen
        self.sessions: dict[str, str] = {}  # session path -> owner's unique name
        self.bound: str | None = None
        self.lock = threading.Lock()

    def send(self, msg) -> None:
        with self.lock:
            self.conn.send(msg)

    def claim_name(self) -> None:
        """Own the portal's name before saying ready (a router waits for the reply)."""
        with DBusRouter(self.conn) as router:
            Proxy(message_bus, router, timeout=10).RequestName(BUS_NAME)

    def request_path(self, sender: str, options: dict) -> str:
        token = options.get("handle_token", ("s", "t"))[1]
        return f"{PATH}/request/{sender.lstrip(':').replace('.', '_')}/{token}"

    def respond(self, path: str, results: dict) -> None:
        def later() -> None:  # after the method's reply, as a real portal does
            time.sleep(0.05)
            request = DBusAddress(path, interface="org.freedesktop.portal.Request")
            self.send(new_signal(request, "Response", "ua{sv}", (0, results)))

        threading.Thread(target=later, daemon=True).start()

    def handle(self, msg) -> None:
        fields = msg.header.fields
        member, iface = fields.get(HeaderFields.member), fields.get(HeaderFields.interface)
        sender, path = fields.get(HeaderFields.sender), fields.get(HeaderFields.path)
        if iface == "org.freedesktop.DBus.Properties" and member == "Get":
            if msg.body == (IFACE, "version"):
                self.send(new_method_return(msg, "v", (("u", 1),)))
            else:
                self.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownProperty"))
        elif iface == IFACE and member == "CreateSession":
            (options,) = msg.body
            token = options["session_handle_token"][1]
            session = f"{PATH}/session/{sender.lstrip(':').replace('.', '_')}/{token}"
            self.sessions[session] = sender
            request = self.request_path(sender, options)
            self.send(new_method_return(msg, "o", (request,)))
            self.respond(request, {"session_handle": ("s", session)})
        elif iface == IFACE and member == "BindShortcuts":
            session, shortcuts, _parent, options = msg.body
            if self.sessions.get(session) != sender:
                self.send(new_error(msg, "org.freedesktop.portal.Error.InvalidArgument"))
                return
            self.bound = session
            asked = [{"id": sid, **{k: v[1] for k, v in opts.items()}} for sid, opts in shortcuts]
            say(bound=asked)
            result = []
            for sid, opts in shortcuts:
                trigger = opts.get("preferred_trigger", ("s", ""))[1]
                if sid == "dictate" and self.chosen:
                    trigger = self.chosen
                desc = {"description": opts["description"]}
                if trigger:
                    desc["trigger_description"] = ("s", trigger)
                result.append((sid, desc))
            request = self.request_path(sender, options)
            self.send(new_method_return(msg, "o", (request,)))
            self.respond(request, {"shortcuts": ("a(sa{sv})", result)})
        elif iface == "org.freedesktop.portal.Session" and member == "Close":
            self.sessions.pop(path, None)
            self.bound = None if self.bound == path else self.bound
            self.send(new_method_return(msg))
            say(closed=path)
        elif msg.header.message_type is MessageType.method_call:
            self.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))

    def shortcut(self, signal: str, sid: str) -> None:
        if self.bound is None:
            say(error=f"{signal} {sid}: nothing bound")
            return
        emitter = DBusAddress(PATH, interface=IFACE)
        body = (self.bound, sid, int(time.monotonic() * 1000), {})
        self.send(new_signal(emitter, signal, "osta{sv}", body))
        say(sent=signal, id=sid)

    def commands(self) -> None:
        for line in sys.stdin:
            word, _, arg = line.strip().partition(" ")
            if word == "press":
                self.shortcut("Activated", arg)
            elif word == "release":
                self.shortcut("Deactivated", arg)
            elif word == "quit":
                break
        self.conn.interrupt()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chosen")
    portal = Portal(parser.parse_args().chosen)
    portal.claim_name()
    threading.Thread(target=portal.commands, daemon=True).start()
    say(ready=portal.conn.unique_name)
    try:
        while True:
            msg = portal.conn.receive()
            if msg.header.message_type is MessageType.method_call:
                portal.handle(msg)
    except Exception:  # ReceiveStopped on quit
        pass


if __name__ == "__main__":
    main()
