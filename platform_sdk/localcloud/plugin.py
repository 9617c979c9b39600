"""Process entry point Terraform runs (via the mirror's launcher): serve the local cloud provider.

go-plugin reads exactly one handshake line from our stdout, so before anything else we move fd 1
to stderr and keep a private copy of the real stdout for the handshake. Any stray print, warning
or C-level write after that lands on stderr, which Terraform only shows with TF_LOG.

The provider lives exactly as long as the Terraform that started it: Terraform normally asks it to stop
(GRPCController/Shutdown), but a Terraform that dies without asking (SIGKILL, or SIGPIPE once the `platform`
reading its output was killed) would leave it running without a parent for good. A watchdog thread notices
that its parent is gone (we were re-parented) and stops the server.

`platform` may also start it itself (`platform_sdk.terraform.attach`) and have each Terraform command of one stack
reattach to it (TF_REATTACH_PROVIDERS) instead of starting its own: then its parent is `platform`, which stops it
with SIGTERM, and it serves without TLS (`mirror.ATTACH_ENV_VAR`). One process then serves several Terraform walks
one after another, each starting with GetProviderSchema and ConfigureProvider (`provider.py` resets the
configuration on every ConfigureProvider).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from typing import IO, Any

from platform_sdk.localcloud import mirror

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
APP_PROTOCOL_VERSION = 6
SHUTDOWN_METHOD = "/plugin.GRPCController/Shutdown"
PARENT_POLL_SECONDS = 0.5


def _protect_stdout() -> IO[str]:
    """Redirect fd 1 to stderr and return a stream on the original stdout, for the handshake only."""
    sys.stdout.flush()
    handshake_fd = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(handshake_fd, "w", buffering=1)


def _drop_cwd_from_path() -> None:
    """`python -m` puts Terraform's working dir first on sys.path; a stray grpc.py there must not win."""
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.abspath(p) != cwd]


TLS_FILE = "handshake-tls.json"
CERT_DAYS = 30


def _server_credentials() -> tuple[bytes, object]:
    """The handshake certificate (DER for the handshake line) and gRPC server credentials.

    Kept between starts in $PLATFORM_LOCALCLOUD_TLS_DIR (one private file: certificate, key, expiry; renewed a day
    before it expires), so a start needs no `cryptography` import and no key generation; made afresh when that
    is unset or unreadable.
    """
    import grpc

    directory = os.environ.get(mirror.TLS_DIR_ENV_VAR)
    cached = _load_credentials(directory) if directory else None
    if cached is not None:
        cert_pem, key_pem = cached
    else:
        cert_pem, key_pem = _new_certificate()
        if directory:
            _save_credentials(directory, cert_pem, key_pem)
    return _der(cert_pem), grpc.ssl_server_credentials([(key_pem, cert_pem)])


def _der(cert_pem: bytes) -> bytes:
    import base64

    body = b"".join(line for line in cert_pem.splitlines() if line and not line.startswith(b"-----"))
    return base64.b64decode(body)


def _load_credentials(directory: str) -> tuple[bytes, bytes] | None:
    import json
    import time

    try:
        with open(os.path.join(directory, TLS_FILE), encoding="utf-8") as file:
            saved = json.load(file)
        if float(saved["not_after"]) - time.time() < 86400:
            return None
        return saved["cert"].encode(), saved["key"].encode()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _save_credentials(directory: str, cert_pem: bytes, key_pem: bytes) -> None:
    """One private file, replaced atomically (another provider process may be starting at the same time)."""
    import json
    import tempfile
    import time

    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tls-")  # created 0600
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"not_after": time.time() + CERT_DAYS * 86400, "cert": cert_pem.decode(),
                       "key": key_pem.decode()}, out)
        os.replace(tmp, os.path.join(directory, TLS_FILE))
    except OSError:
        pass  # a cache only: the next start makes another


def _new_certificate() -> tuple[bytes, bytes]:
    """A self-signed ECDSA certificate (fast to make): (cert PEM, key PEM)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _watch_parent(parent: int, stop: Any) -> None:
    """Set `stop` once the process that started us is gone (our parent pid changes when it dies)."""
    while not stop.wait(PARENT_POLL_SECONDS):
        if os.getppid() != parent:
            stop.set()  # first: the message below may fail (stderr is a pipe to the Terraform that is gone)
            with contextlib.suppress(OSError):
                print(f"parent process {parent} is gone: stopping the local cloud provider", file=sys.stderr)


def serve(handshake: IO[str]) -> int:
    """Start the gRPC server on a unix socket, print the handshake, and run until Terraform says stop."""
    import base64
    import shutil
    import tempfile
    import threading
    from concurrent import futures

    import grpc
    from tf.gen import tfplugin_pb2_grpc as rpc

    from platform_sdk.localcloud.provider import LocalCloudProvider
    from platform_sdk.localcloud.servicer import LocalCloudServicer

    stop = threading.Event()

    class _ShutdownWatcher(grpc.ServerInterceptor):
        """go-plugin asks for shutdown via GRPCController; we just notice the call and exit."""

        def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Any], handler_call_details: Any
        ) -> Any:
            if handler_call_details.method == SHUTDOWN_METHOD:
                stop.set()
            return continuation(handler_call_details)

    executor = futures.ThreadPoolExecutor(max_workers=10)
    server = grpc.server(executor, interceptors=[_ShutdownWatcher()])
    rpc.add_ProviderServicer_to_server(LocalCloudServicer(LocalCloudProvider()), server)

    sock_dir = tempfile.mkdtemp(prefix="localcloud-", dir=os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or None)
    try:
        sock = os.path.join(sock_dir, "plugin.sock")
        if os.environ.get(mirror.ATTACH_ENV_VAR) == "1":
            # Started by `platform` for Terraform to reattach to: go-plugin's reattach has no TLS (Terraform's
            # unmanaged-provider client sets no TLS config, so it dials without it); the socket's directory is
            # private to this user (mkdtemp: 0700), which is what keeps others out either way.
            cert = ""
            server.add_insecure_port(f"unix://{sock}")
        else:
            cert_der, creds = _server_credentials()
            cert = base64.b64encode(cert_der).decode().rstrip("=")
            server.add_secure_port(f"unix://{sock}", creds)  # type: ignore[arg-type]
        server.start()
        # The handler runs on this thread, possibly inside stop.wait() below while that holds the event's lock:
        # Event.set there would deadlock (seen under load), so a short-lived thread sets it instead.
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=stop.set).start())
        threading.Thread(target=_watch_parent, args=(os.getppid(), stop), name="parent-watchdog",
                         daemon=True).start()
        handshake.write(f"1|{APP_PROTOCOL_VERSION}|unix|{sock}|grpc|{cert}\n")
        handshake.flush()
        stop.wait()
        server.stop(grace=0.5).wait()
        executor.shutdown(wait=True)  # a call still running (its Terraform gone) finishes before we exit: see _exit
        return 0
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


def main() -> int:
    """Check we were started by Terraform, then serve."""
    # Terraform handles Ctrl-C itself and then tells us to stop; dying mid-apply would lose state.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    handshake = _protect_stdout()
    _drop_cwd_from_path()
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        print(
            "This is the platform SDK local cloud Terraform provider; Terraform starts it, not a person.",
            file=sys.stderr,
        )
        return 1
    offered = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "")
    if offered and str(APP_PROTOCOL_VERSION) not in offered.split(","):
        print(
            f"The local cloud provider speaks plugin protocol {APP_PROTOCOL_VERSION}; this Terraform offers "
            f"{offered}. Use Terraform >= 1.0 or OpenTofu.",
            file=sys.stderr,
        )
        return 1
    return serve(handshake)


def _exit(code: int) -> None:
    """Leave without the interpreter's clean-up: flush what we wrote, then `os._exit`.

    By the time `main` returns the server has stopped, its socket directory is gone and every call it served has
    finished (`serve` waits for calls still running, as the interpreter's exit would). What the interpreter would
    still do is tear down grpc's threads and every imported module, about a sixth of a provider process's CPU
    (docs/testing.md), paid on every start. Under a profiler or a tracer (cProfile, coverage.py), which write their
    data at exit, the interpreter exits normally.
    """
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
