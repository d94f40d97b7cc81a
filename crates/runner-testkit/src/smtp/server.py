"""A real SMTP server for runner's tests (aiosmtpd): AUTH (PLAIN, LOGIN, XOAUTH2 with the
password as the token) against one user,
STARTTLS or implicit TLS with the test's certificate, or neither. Each message received is
written to the folder given, as `N.eml` (the bytes received) and `N.json` (the envelope, and
the message as Python's email package reads it: headers and every leaf part decoded). Prints
`READY <port>` once it listens; exits when its stdin closes."""
import asyncio, base64, json, os, ssl, sys
from email import policy
from email.parser import BytesParser
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword

mode, folder, user, password, cert, key = sys.argv[1:7]
count = 0

class Handler:
    async def handle_DATA(self, server, session, envelope):
        global count
        count += 1
        raw = envelope.original_content or envelope.content
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                parts.append({"multipart": part.get_content_type()})
                continue
            payload = part.get_payload(decode=True) or b""
            parts.append({
                "content_type": part.get_content_type(),
                "charset": part.get_content_charset(),
                "filename": part.get_filename(),
                "disposition": part.get_content_disposition(),
                "content_id": part.get("Content-ID"),
                "transfer_encoding": part.get("Content-Transfer-Encoding"),
                "data": base64.b64encode(payload).decode(),
            })
        auth = getattr(session, "auth_data", None)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": auth.login.decode() if isinstance(auth, LoginPassword) else None,
            "tls": session.ssl is not None,
            "headers": [[k, str(v)] for k, v in msg.items()],
            "parts": parts,
        }
        base = os.path.join(folder, str(count))
        with open(base + ".eml.partial", "wb") as f:
            f.write(raw)
        os.rename(base + ".eml.partial", base + ".eml")
        with open(base + ".json.partial", "w") as f:
            json.dump(record, f)
        os.rename(base + ".json.partial", base + ".json")
        return "250 Message accepted for delivery"

class Server(SMTP):
    def connection_made(self, transport):
        super().connection_made(transport)
        if transport.get_extra_info("sslcontext") is not None and self._original_transport is None:
            # Implicit TLS: the whole connection is encrypted, as STARTTLS would have made it.
            self._tls_protocol = True
            self.session.ssl = {"implicit": True}

    async def auth_XOAUTH2(self, _, args):
        # XOAUTH2 (Google's and Microsoft's SMTP OAuth): base64 of
        # "user=<user>\x01auth=Bearer <token>\x01\x01"; the password stands for the token.
        if len(args) == 1:
            blob = await self.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=False)
        else:
            blob = base64.b64decode(args[1])
        fields = dict(p.split("=", 1) for p in blob.decode().split("\x01") if "=" in p)
        if fields.get("user") == user and fields.get("auth") == "Bearer " + password:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        # Not handled here: aiosmtpd answers 535, as for a wrong password.
        return AuthResult(success=False, handled=False)


def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password:
        return AuthResult(success=True, auth_data=auth_data)
    return AuthResult(success=False, handled=False)

def tls_context():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx

async def main():
    loop = asyncio.get_running_loop()
    starttls = tls_context() if mode == "starttls" else None
    implicit = tls_context() if mode == "implicit" else None
    def factory():
        return Server(Handler(), hostname="runner-test", tls_context=starttls,
                    require_starttls=starttls is not None, authenticator=authenticator,
                    auth_required=True, auth_require_tls=mode != "plain",
                    decode_data=False)
    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=implicit)
    print("READY", server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()

asyncio.run(main())
