#!/usr/bin/env python3
"""Third-party OAuth 2.0 client check for an RFC 6749 token endpoint (dcr token-svc).

Uses Authlib's requests client (authlib.integrations.requests_client.OAuth2Session),
which nobody on the dcr team wrote, for the client-credentials grant (RFC 6749 4.4)
with client_secret_basic and client_secret_post, plus raw `requests` calls for what
Authlib does not expose (HTTP status, response headers) and for error cases.

Checks (one line each, PASS/FAIL/SKIP):
  1 client_secret_basic   Authlib fetch_token -> access_token, token_type Bearer,
                          integer expires_in > 0 [, JWT aud contains --expect-jwt-aud]
  2 client_secret_post    the same with client_secret_post (--skip-post to skip)
  3 response headers      raw POST: Cache-Control has no-store, Content-Type is JSON
  4 wrong secret          Authlib raises OAuthError error=invalid_client; raw Basic
                          request gets 401 + WWW-Authenticate: Basic ...
  5 unknown client id     same status, error, error_description (and WWW-Authenticate)
                          as a wrong secret: no client enumeration
  6 unsupported grant     grant_type=password -> 400 unsupported_grant_type
  7 no client auth        no credentials at all -> 401 invalid_client (RFC 6749 5.2)

Exit codes: 0 all checks passed, 1 a check failed, 2 bad usage.
"""

import argparse
import base64
import json
import secrets
import sys
import urllib.parse

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

FORM_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}


class CheckFailed(Exception):
    pass


def require(cond, msg):
    if not cond:
        raise CheckFailed(msg)


# ---------------------------------------------------------------- helpers


def basic_header(client_id, client_secret):
    """RFC 6749 2.3.1: form-urlencode id and secret, then HTTP Basic (RFC 7617)."""
    enc = urllib.parse.quote_plus
    raw = f"{enc(client_id, safe='')}:{enc(client_secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode("utf-8")).decode("ascii")


def is_json_content_type(value):
    media = (value or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def cache_control_has_no_store(value):
    return "no-store" in [d.strip().split("=", 1)[0].lower() for d in (value or "").split(",")]


def describe(resp):
    body = resp.text
    if len(body) > 300:
        body = body[:300] + "..."
    return f"HTTP {resp.status_code} {body!r}"


def json_error(resp):
    """An RFC 6749 5.2 error response: JSON object with a string `error`."""
    require(
        is_json_content_type(resp.headers.get("Content-Type")),
        f"error response Content-Type is {resp.headers.get('Content-Type')!r}, "
        f"want application/json (RFC 6749 5.2): {describe(resp)}",
    )
    try:
        body = resp.json()
    except ValueError:
        raise CheckFailed(f"error response is not JSON: {describe(resp)}")
    require(isinstance(body, dict), f"error response is not a JSON object: {describe(resp)}")
    require(isinstance(body.get("error"), str), f"error response has no string `error`: {describe(resp)}")
    return body


def jwt_payload(token):
    parts = token.split(".")
    require(len(parts) == 3, f"access_token is not a JWS compact JWT ({len(parts)} parts)")
    seg = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        return json.loads(base64.urlsafe_b64decode(seg.encode("ascii")))
    except (ValueError, UnicodeError) as e:
        raise CheckFailed(f"cannot decode JWT payload: {e}")


# ---------------------------------------------------------------- the client


class Runner:
    def __init__(self, args):
        self.a = args
        self.extra = {}
        if args.audience is not None:
            self.extra[args.audience_param] = args.audience

    # -- Authlib
    def authlib_fetch(self, method, client_id=None, client_secret=None):
        client = OAuth2Session(
            client_id if client_id is not None else self.a.client_id,
            client_secret if client_secret is not None else self.a.client_secret,
            token_endpoint_auth_method=method,
            scope=self.a.scope,
        )
        try:
            return client.fetch_token(
                self.a.token_url,
                grant_type="client_credentials",
                timeout=self.a.timeout,
                **self.extra,
            )
        finally:
            client.close()

    # -- raw requests
    def raw(self, data, auth=None, basic=None):
        headers = dict(FORM_HEADERS)
        if basic is not None:
            headers["Authorization"] = basic_header(*basic)
        return requests.post(
            self.a.token_url, data=data, headers=headers, auth=auth, timeout=self.a.timeout
        )

    def cc_form(self):
        data = {"grant_type": "client_credentials"}
        if self.a.scope:
            data["scope"] = self.a.scope
        data.update(self.extra)
        return data

    # -- checks
    def token_ok(self, method):
        tok = self.authlib_fetch(method)
        at = tok.get("access_token")
        require(isinstance(at, str) and at, f"no access_token in {dict(tok)!r}")
        tt = tok.get("token_type")
        require(
            isinstance(tt, str) and tt.lower() == "bearer",
            f"token_type is {tt!r}, want Bearer",
        )
        ei = tok.get("expires_in")
        require(
            isinstance(ei, int) and not isinstance(ei, bool) and ei > 0,
            f"expires_in is {ei!r} ({type(ei).__name__}), want an integer > 0",
        )
        sc = tok.get("scope")
        require(sc is None or isinstance(sc, str), f"scope is {sc!r}, want a string")
        info = f"token_type={tt} expires_in={ei}"
        if sc is not None:
            info += f" scope={sc!r}"
        if self.a.expect_jwt_aud is not None:
            payload = jwt_payload(at)
            aud = payload.get("aud")
            auds = aud if isinstance(aud, list) else [aud]
            require(
                self.a.expect_jwt_aud in auds,
                f"JWT aud is {aud!r}, want it to contain {self.a.expect_jwt_aud!r}",
            )
            info += f" aud={aud!r}"
        return info

    def check_basic(self):
        return self.token_ok("client_secret_basic")

    def check_post(self):
        return self.token_ok("client_secret_post")

    def check_headers(self):
        resp = self.raw(self.cc_form(), basic=(self.a.client_id, self.a.client_secret))
        require(resp.status_code == 200, f"want HTTP 200, got {describe(resp)}")
        cc = resp.headers.get("Cache-Control")
        require(cache_control_has_no_store(cc), f"Cache-Control is {cc!r}, want no-store (RFC 6749 5.1)")
        ct = resp.headers.get("Content-Type")
        require(is_json_content_type(ct), f"Content-Type is {ct!r}, want application/json (RFC 6749 5.1)")
        body = resp.json()
        require(isinstance(body, dict) and body.get("access_token"), f"no access_token: {describe(resp)}")
        return f"Cache-Control={cc!r} Content-Type={ct!r}"

    def bad_client(self, client_id, secret):
        """Authlib error + raw Basic response for bad credentials."""
        try:
            tok = self.authlib_fetch("client_secret_basic", client_id=client_id, client_secret=secret)
        except OAuthError as e:
            authlib_err = e
        else:
            raise CheckFailed(f"Authlib got a token with bad credentials: {dict(tok)!r}")
        require(
            authlib_err.error == "invalid_client",
            f"Authlib OAuthError.error is {authlib_err.error!r}, want 'invalid_client'",
        )
        resp = self.raw(self.cc_form(), basic=(client_id, secret))
        require(resp.status_code == 401, f"raw Basic request: want HTTP 401, got {describe(resp)}")
        body = json_error(resp)
        require(body["error"] == "invalid_client", f"raw Basic request: want invalid_client, got {describe(resp)}")
        www = resp.headers.get("WWW-Authenticate")
        require(
            www is not None and www.strip().lower().startswith("basic"),
            f"401 WWW-Authenticate is {www!r}, want a Basic challenge (RFC 6749 5.2)",
        )
        return authlib_err, resp, body, www

    def wrong_secret(self):
        return self.bad_client(self.a.client_id, "wrong-" + secrets.token_urlsafe(24))

    def check_wrong_secret(self):
        err, resp, body, www = self.wrong_secret()
        return (
            f"Authlib {type(err).__name__} error={err.error!r}; "
            f"raw HTTP {resp.status_code} WWW-Authenticate={www!r}"
        )

    def check_unknown_client(self):
        _, r1, b1, w1 = self.wrong_secret()
        unknown = "no-such-client-" + secrets.token_hex(8)
        _, r2, b2, w2 = self.bad_client(unknown, "wrong-" + secrets.token_urlsafe(24))
        diffs = []
        if r1.status_code != r2.status_code:
            diffs.append(f"status {r1.status_code} vs {r2.status_code}")
        for key in ("error", "error_description"):
            if b1.get(key) != b2.get(key):
                diffs.append(f"{key} {b1.get(key)!r} vs {b2.get(key)!r}")
        if w1 != w2:
            diffs.append(f"WWW-Authenticate {w1!r} vs {w2!r}")
        require(
            not diffs,
            "unknown client id is distinguishable from a wrong secret "
            "(wrong secret vs unknown id): " + "; ".join(diffs),
        )
        return (
            f"HTTP {r2.status_code} error={b2.get('error')!r} "
            f"error_description={b2.get('error_description')!r} (same as wrong secret)"
        )

    def check_password_grant(self):
        resp = self.raw(
            {"grant_type": "password", "username": "alice", "password": "secret"},
            basic=(self.a.client_id, self.a.client_secret),
        )
        require(resp.status_code == 400, f"want HTTP 400, got {describe(resp)}")
        body = json_error(resp)
        require(
            body["error"] == "unsupported_grant_type",
            f"error is {body['error']!r}, want 'unsupported_grant_type': {describe(resp)}",
        )
        return f"HTTP 400 error={body['error']!r}"

    def check_no_auth(self):
        resp = self.raw(self.cc_form())
        body = json_error(resp) if resp.status_code != 200 else None
        require(
            resp.status_code == 401 and body["error"] == "invalid_client",
            f"want HTTP 401 invalid_client (RFC 6749 5.2: no client authentication "
            f"included), got {describe(resp)}",
        )
        www = resp.headers.get("WWW-Authenticate")
        require(www, "401 without a WWW-Authenticate header (RFC 7235 3.1)")
        return f"HTTP 401 error={body['error']!r} WWW-Authenticate={www!r}"


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Check an RFC 6749 token endpoint (client credentials) with Authlib.",
    )
    p.add_argument("--token-url", required=True, help="token endpoint, e.g. http://127.0.0.1:8080/oauth2/token")
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--scope", default=None, help='space-separated scope to request, e.g. "read"')
    p.add_argument("--audience", default=None, help="audience/resource to request")
    p.add_argument(
        "--audience-param", choices=["audience", "resource"], default="audience",
        help="form parameter that carries --audience (default audience; RFC 8707 uses resource)",
    )
    p.add_argument("--expect-jwt-aud", default=None, help="assert the access token is a JWT whose aud contains this")
    p.add_argument("--skip-post", action="store_true", help="skip check 2 (client_secret_post)")
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout in seconds (default 10)")
    args = p.parse_args(argv)
    url = urllib.parse.urlsplit(args.token_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        p.error(f"--token-url must be an http(s) URL, got {args.token_url!r}")
    if not args.client_id or not args.client_secret:
        p.error("--client-id and --client-secret must not be empty")
    if args.timeout <= 0:
        p.error("--timeout must be > 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    r = Runner(args)
    checks = [
        ("1", "client_secret_basic", r.check_basic, None),
        ("2", "client_secret_post", r.check_post, "--skip-post" if args.skip_post else None),
        ("3", "response headers", r.check_headers, None),
        ("4", "wrong secret -> invalid_client", r.check_wrong_secret, None),
        ("5", "unknown client id == wrong secret", r.check_unknown_client, None),
        ("6", "grant_type=password -> unsupported_grant_type", r.check_password_grant, None),
        ("7", "no client auth -> 401 invalid_client", r.check_no_auth, None),
    ]
    passed = failed = skipped = 0
    for num, name, fn, skip in checks:
        if skip:
            skipped += 1
            print(f"SKIP {num} {name}: {skip}", flush=True)
            continue
        try:
            info = fn()
        except CheckFailed as e:
            failed += 1
            print(f"FAIL {num} {name}: {e}", flush=True)
        except OAuthError as e:
            failed += 1
            print(f"FAIL {num} {name}: Authlib {type(e).__name__}: error={e.error!r} "
                  f"description={e.description!r}", flush=True)
        except (requests.RequestException, ValueError) as e:
            failed += 1
            print(f"FAIL {num} {name}: {type(e).__name__}: {e}", flush=True)
        else:
            passed += 1
            print(f"PASS {num} {name}: {info}", flush=True)
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
