"""Configures a freshly started Glewlwyd for authbench through its admin API (stdlib only).

    python3 setup.py --url http://127.0.0.1:PORT --key key.pem --cert pub.pem \
        --client-id ID --client-secret SECRET --users 1000 --access-ttl 6

What it creates (see scenarios/targets/glewlwyd.yaml for why each setting):
  * scope `authbench` (password required);
  * OpenID Connect plugin instance `oidc`: RS256 JWT access tokens, the password grant
    (allow-non-oidc), one-time-use (rotated) refresh tokens, introspection and revocation
    for the token's client;
  * a confidential client (client_secret_basic) with the password, refresh_token and
    client_credentials authorization types;
  * users user0..user{N-1} with password pw-{n}, holding the scopes `authbench` and `openid`.

The admin is Glewlwyd's default `admin` / `password` of a new database (GETTING_STARTED.md).
Exit status 0 on success; any refused admin request is printed and exits 1.
"""

import argparse
import http.cookiejar
import json
import sys
import urllib.error
import urllib.request


class Admin:
    def __init__(self, api):
        self.api = api.rstrip("/")
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.api + path, data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def must(self, method, path, body=None):
        status, text = self.call(method, path, body)
        if status != 200:
            sys.exit(f"setup.py: {method} {path} answered {status}: {text[:300]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--key", required=True, help="RSA private key (PEM) signing the tokens")
    parser.add_argument("--cert", required=True, help="its public key (PEM)")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--access-ttl", type=int, default=6)
    args = parser.parse_args()

    admin = Admin(args.url + "/api")
    admin.must("POST", "/auth/", {"username": "admin", "password": "password"})
    admin.must("POST", "/scope/", {
        "name": "authbench", "display_name": "authbench",
        "description": "authbench test users", "password_required": True, "scheme": {}})
    with open(args.key) as key, open(args.cert) as cert:
        key_pem, cert_pem = key.read(), cert.read()
    admin.must("POST", "/mod/plugin/", {
        "module": "oidc", "name": "oidc", "display_name": "OpenID Connect", "enabled": True,
        "parameters": {
            "iss": args.url, "jwt-type": "rsa", "jwt-key-size": "256",
            "key": key_pem, "cert": cert_pem,
            "access-token-duration": args.access_ttl, "refresh-token-duration": 3600,
            "code-duration": 600,
            "refresh-token-rolling": False, "refresh-token-one-use": "always",
            "allow-non-oidc": True,
            "auth-type-code-enabled": True, "auth-type-token-enabled": False,
            "auth-type-id-token-enabled": True, "auth-type-none-enabled": False,
            "auth-type-password-enabled": True, "auth-type-client-enabled": True,
            "auth-type-refresh-enabled": True, "auth-type-device-enabled": False,
            "introspection-revocation-allowed": True,
            "introspection-revocation-allow-target-client": True,
            "scope": [], "additional-parameters": [], "claims": [],
        }})
    admin.must("POST", "/client/", {
        "client_id": args.client_id, "name": "authbench", "confidential": True,
        "client_secret": args.client_secret,
        "authorization_type": ["password", "refresh_token", "client_credentials"],
        "token_endpoint_auth_method": ["client_secret_basic", "client_secret_post"],
        "scope": ["authbench"], "redirect_uri": ["http://127.0.0.1/callback"], "enabled": True})

    def add_user(n):
        admin.must("POST", "/user/", {
            "username": f"user{n}", "password": f"pw-{n}",
            "scope": ["authbench", "openid"], "enabled": True})

    # One at a time: Glewlwyd's sqlite backend refuses concurrent writes ("database is locked").
    for n in range(args.users):
        add_user(n)
    print(f"setup.py: plugin oidc, client {args.client_id}, {args.users} users")


if __name__ == "__main__":
    main()
