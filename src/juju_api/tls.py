"""TLS pinned to the controller's CA, and endpoint parsing shared by RPC and HTTP."""

from __future__ import annotations

import ssl

from .errors import TLSVerificationFailed

# Juju's Go client verifies this name, whatever address it dials; controller certificates
# list it (with localhost, juju-mongodb and anything) but rarely the address itself.
SERVER_NAME = "juju-apiserver"


def pinned_context(ca_cert: str) -> ssl.SSLContext:
    """Return a client context that trusts exactly ``ca_cert`` and checks the server name.

    Args:
        ca_cert: the controller's CA certificate, PEM.

    Raises:
        TLSVerificationFailed: ``ca_cert`` is not a usable PEM certificate.
    """
    if "-----BEGIN CERTIFICATE-----" not in ca_cert:
        raise TLSVerificationFailed("the controller CA certificate is not a PEM certificate")
    try:
        # cadata replaces the system trust store: only the controller's CA is trusted.
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_cert)
    except (ssl.SSLError, ValueError) as e:
        raise TLSVerificationFailed(
            f"the controller CA certificate cannot be loaded: {e.__class__.__name__}"
        ) from None
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    # Juju's own minimum; explicit, as a system OpenSSL configuration may set another.
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # Python 3.13 turns on RFC 5280 strictness that Go-made Juju CAs may not meet; the chain
    # and the name are still verified.
    ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    return ctx


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """Split ``"host:port"`` (or ``"[v6]:port"``) into host and port.

    Raises:
        ValueError: the endpoint has no valid port.
    """
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"endpoint {endpoint!r} is not host:port")
    return host.strip("[]"), int(port)


def is_tls_failure(exc: BaseException) -> bool:
    """Tell whether a connection error was a failed TLS handshake (not a mere drop)."""
    dropped = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)
    return isinstance(exc, ssl.SSLError) and not isinstance(exc, dropped)


def tls_failure(endpoint: str, exc: BaseException) -> TLSVerificationFailed:
    """Describe a failed TLS handshake with ``endpoint`` (the reason, never key material)."""
    reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None)
    return TLSVerificationFailed(
        f"{endpoint}: TLS verification against the controller CA and the name "
        f"{SERVER_NAME!r} failed ({reason or exc.__class__.__name__})"
    )
