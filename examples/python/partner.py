"""An integration partner: sign a request with its key and call gql-keys.

    python partner.py http://127.0.0.1:8000 KEY --secret SECRET           # HMAC_SHA512 key
    python partner.py http://127.0.0.1:8000 KEY --private-key key.pem     # ED25519 key
    python partner.py keygen key.pem     # make an Ed25519 pair; prints the public key (PEM)

Asks ``/graphql`` which key signed (``currentApiKey``) and prints the answer. With
``--verifier-token`` it also plays the gateway once: a signed ``GET /api/v4/spot/accounts``
is passed to the forward-auth endpoint ``/authz`` the way Envoy's ``ext_authz`` does, and
the status and ``X-Verification-Code`` are printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from signing import new_ed25519_key, signed_headers

CURRENT_KEY = (
    "{ currentApiKey { label algorithm scopes expiresAt rateLimit { requests perSeconds } } }"
)


def call_graphql(
    client: httpx.Client,
    key: str,
    document: str,
    *,
    secret: str | None = None,
    private_key: Ed25519PrivateKey | None = None,
) -> dict[str, object]:
    """POST a document to /graphql signed with the key (the exact bytes that are sent)."""
    body = json.dumps({"query": document}).encode()
    headers = signed_headers(
        key, "POST", "/graphql", "", body, secret=secret, private_key=private_key
    )
    response = client.post(
        "/graphql", content=body, headers={**headers, "content-type": "application/json"}
    )
    response.raise_for_status()
    answer: dict[str, object] = response.json()
    return answer


def through_forward_auth(
    client: httpx.Client,
    key: str,
    verifier_token: str,
    path: str,
    query: str = "",
    *,
    secret: str | None = None,
    private_key: Ed25519PrivateKey | None = None,
) -> httpx.Response:
    """Send a signed GET the way a forward-auth gateway checks it: to /authz + path."""
    headers = signed_headers(key, "GET", path, query, b"", secret=secret, private_key=private_key)
    url = f"/authz{path}?{query}" if query else f"/authz{path}"
    return client.get(url, headers={**headers, "X-Verifier-Token": verifier_token})


def keygen(path: Path) -> None:
    private_key, public_pem = new_ed25519_key()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    print(public_pem, end="")


def main() -> None:
    if sys.argv[1:2] == ["keygen"]:
        keygen(Path(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("key", help="the key's public identifier (gqk_...)")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--secret", help="the HMAC secret (gqks_...)")
    how.add_argument("--private-key", type=Path, help="PEM file of the Ed25519 private key")
    parser.add_argument("--verifier-token", help="also check a request through /authz")
    args = parser.parse_args()
    private_key = None
    if args.private_key is not None:
        loaded = serialization.load_pem_private_key(args.private_key.read_bytes(), None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise SystemExit(f"{args.private_key} is not an Ed25519 private key")
        private_key = loaded
    with httpx.Client(base_url=args.base_url, timeout=10) as client:
        answer = call_graphql(
            client, args.key, CURRENT_KEY, secret=args.secret, private_key=private_key
        )
        print(json.dumps(answer))
        if answer.get("errors"):
            raise SystemExit(1)
        if args.verifier_token:
            checked = through_forward_auth(
                client,
                args.key,
                args.verifier_token,
                "/api/v4/spot/accounts",
                "currency=BTC",
                secret=args.secret,
                private_key=private_key,
            )
            code = checked.headers.get("X-Verification-Code")
            print(json.dumps({"authz": checked.status_code, "verificationCode": code}))


if __name__ == "__main__":
    main()
