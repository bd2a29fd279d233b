"""gunicorn's access log (gunicorn.conf.py logger_class) with every request-controlled atom made safe.

gunicorn writes headers, the request line and REMOTE_ADDR (the client ProxyFix resolved from X-Forwarded-For)
as they came. Here the client and each X-Forwarded-For hop are parsed addresses (services/clients.py: `invalid`
when unparsable) and every other text atom is escaped (services/logtext.py), so no request can forge a line
or a fail2ban match. Share-link tokens in the URL and the Referer are replaced (services/shares/tokens.redact):
a token in a log would open the link.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from services.clients import client_address
from services.logtext import escape
from services.shares.tokens import redact

# Atoms whose text comes from the request (headers "{name}i" are added below).
_REQUEST_TEXT = ("m", "U", "q", "H", "f", "a")
MAX_ATOM_CHARS = 1000
FORWARDED_FOR = "{x-forwarded-for}i"


class AccessLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        forwarded = atoms.get(FORWARDED_FOR)
        for key, value in atoms.items():
            if isinstance(value, str) and (key in _REQUEST_TEXT or key.endswith("}i")):
                atoms[key] = escape(redact(value), max_chars=MAX_ATOM_CHARS)
        atoms["h"] = client_address(environ.get("REMOTE_ADDR"))
        if isinstance(forwarded, str):  # each hop as its parsed address: "10.0.0.1, invalid"
            atoms[FORWARDED_FOR] = ", ".join(client_address(hop) for hop in forwarded.split(","))
        # The request line keeps its two real spaces: each of its parts is escaped on its own.
        atoms["r"] = " ".join(escape(redact(environ.get(part, "-")), max_chars=MAX_ATOM_CHARS)
                              for part in ("REQUEST_METHOD", "RAW_URI", "SERVER_PROTOCOL"))
        return atoms
