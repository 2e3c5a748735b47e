#!/usr/bin/env python3
"""The MSAL for Python side of `cargo bench --bench token`: what a mail client's token helper
built on MSAL does on every fetch — load a serialized token cache, acquire_token_silent, print
the access token. Given a valid cached token, MSAL needs no token request.

No network at all: MSAL insists on an https authority and reads its discovery document once per
process, so an in-memory http client answers that one GET (the "relaxed for loopback" the
benchmark allows; nothing else is changed).

usage: msal_token.py CACHE.json              print the cached access token
       msal_token.py --write CACHE.json AT   write a cache holding AT (valid for an hour)
"""
import json
import sys
import time

AUTHORITY = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
CLIENT_ID = "8f1c2d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f"
SCOPES = ["https://outlook.office.com/IMAP.AccessAsUser.All"]
HOME = "b1f0c3d2-4e5f-4a6b-8c7d-9e0f1a2b3c4d.7c9f4b2a-1d3e-4f5a-8b6c-0d1e2f3a4b5c"
TID = "7c9f4b2a-1d3e-4f5a-8b6c-0d1e2f3a4b5c"
ENV = "login.microsoftonline.com"


class Response:
    def __init__(self, body):
        self.status_code = 200
        self.text = json.dumps(body)
        self.headers = {}

    def raise_for_status(self):
        pass


class OfflineHttp:
    """Answers the discovery GET; any other request would be a bug in the benchmark."""

    def get(self, url, **_):
        base = "https://login.microsoftonline.com/" + TID
        return Response({
            "issuer": base + "/v2.0",
            "authorization_endpoint": base + "/oauth2/v2.0/authorize",
            "token_endpoint": base + "/oauth2/v2.0/token",
            "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
        })

    def post(self, url, **_):
        raise RuntimeError("the benchmark expects no token request: " + url)

    def close(self):
        pass


def write(path, access_token):
    now = int(time.time())
    target = " ".join(SCOPES).lower()
    key = "-".join([HOME, ENV, "accesstoken", CLIENT_ID, TID, target])
    cache = {
        "Account": {
            "-".join([HOME, ENV, TID]): {
                "home_account_id": HOME, "environment": ENV, "realm": TID,
                "local_account_id": HOME.split(".")[0], "username": "alice@contoso.com",
                "authority_type": "MSSTS",
            }
        },
        "AccessToken": {
            key: {
                "credential_type": "AccessToken", "secret": access_token,
                "home_account_id": HOME, "environment": ENV, "client_id": CLIENT_ID,
                "target": " ".join(SCOPES), "realm": TID, "token_type": "Bearer",
                "cached_at": str(now), "expires_on": str(now + 3600),
                "extended_expires_on": str(now + 3600),
            }
        },
        "RefreshToken": {}, "IdToken": {}, "AppMetadata": {},
    }
    with open(path, "w") as f:
        json.dump(cache, f)


def main():
    if sys.argv[1] == "--write":
        write(sys.argv[2], sys.argv[3])
        return
    import msal
    cache = msal.SerializableTokenCache()
    with open(sys.argv[1]) as f:
        cache.deserialize(f.read())
    app = msal.PublicClientApplication(
        CLIENT_ID, authority=AUTHORITY, token_cache=cache, http_client=OfflineHttp(),
        instance_discovery=False,
    )
    accounts = app.get_accounts()
    result = app.acquire_token_silent(SCOPES, account=accounts[0]) if accounts else None
    if not result or "access_token" not in result:
        sys.exit("msal: no cached token: %r" % (result,))
    print(result["access_token"])


if __name__ == "__main__":
    main()
