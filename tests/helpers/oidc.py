"""A real OpenID Connect provider on 127.0.0.1 for the single sign-on tests (no tests here).

oidc-provider-mock is Authlib's provider code in a small Flask app: its authorization page
lets a test sign any subject in, and a user's claims (set with ``PUT /users/<sub>``)
override those of the ID token it signs, so a test can get a real token with another
audience, an old expiry or another nonce.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def oidc_provider() -> Iterator[str]:
    """A running provider (nonce required, as tledger always sends one); its issuer URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Authlib's deprecation notices inside the mock
        import oidc_provider_mock
        import werkzeug.serving

        server = werkzeug.serving.make_server(
            "127.0.0.1", 0, oidc_provider_mock.app(require_nonce=True), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def sso_environment(issuer: str, base_url: str, client_id: str = "tledger-web"
                    ) -> dict[str, str]:
    """The TLEDGER_* variables that turn single sign-on on against ``issuer``."""
    return {"TLEDGER_OIDC_ISSUER": issuer, "TLEDGER_OIDC_CLIENT_ID": client_id,
            "TLEDGER_OIDC_CLIENT_SECRET": "s3cret-of-the-app", "TLEDGER_BASE_URL": base_url}
