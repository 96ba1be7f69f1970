#!/usr/bin/env python3
"""End-to-end check that the dcr registry's protos serve a Python grpcio client.

Against a running registry-svc (and an RFC 7591 IdP behind --issuer) it creates a
provider, a strategy, a product and an application, registers the application for the
product, deletes the application, and checks gRPC health. One line per step; exit 0 when
every step passed, 1 (with the failing step and why) otherwise, 2 on bad usage.

Stubs come from gen_stubs.sh: put their directory on PYTHONPATH or pass --stubs DIR.
"""

import argparse
import os
import secrets
import sys


class CheckFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", required=True, help="registry-svc gRPC address, host:port")
    p.add_argument("--admin-token", required=True, help="DCR_ADMIN_TOKEN")
    p.add_argument("--portal-token", required=True, help="DCR_PORTAL_TOKEN")
    p.add_argument("--issuer", required=True, help="issuer URL of the RFC 7591 IdP")
    p.add_argument("--initial-access-token", required=True,
                   help="the IdP's RFC 7591 initial access token")
    p.add_argument("--stubs", help="directory holding the generated dcr/ package "
                   "(default: found on PYTHONPATH)")
    p.add_argument("--timeout", type=float, default=30.0, help="per-RPC deadline, seconds")
    p.add_argument("--ca", help="PEM CA file: connect over TLS, trusting only this CA")
    p.add_argument("--client-cert", help="PEM client certificate, for mTLS (with --client-key)")
    p.add_argument("--client-key", help="PEM client key, for mTLS")
    return p.parse_args()


def main():
    args = parse_args()
    if args.stubs:
        if not os.path.isdir(os.path.join(args.stubs, "dcr")):
            print(f"FAIL: --stubs {args.stubs} has no dcr/ package (run gen_stubs.sh)",
                  file=sys.stderr)
            return 2
        sys.path.insert(0, os.path.abspath(args.stubs))

    try:
        import grpc
        from google.rpc import error_details_pb2
        from grpc_health.v1 import health_pb2, health_pb2_grpc
        from grpc_status import rpc_status
        from dcr.registry.v1 import (
            applications_pb2, applications_pb2_grpc,
            products_pb2, products_pb2_grpc,
            providers_pb2, providers_pb2_grpc,
            registrations_pb2,
            strategies_pb2, strategies_pb2_grpc,
        )
    except ImportError as e:
        print(f"FAIL: import: {e} (install requirements.txt; generate stubs with "
              "gen_stubs.sh and pass --stubs or set PYTHONPATH)", file=sys.stderr)
        return 2

    T = args.timeout
    suffix = secrets.token_hex(4)
    admin_md = (("authorization", f"Bearer {args.admin_token}"),)
    developer = f"py-dev-{suffix}"
    portal_md = (("authorization", f"Bearer {args.portal_token}"),
                 ("x-dcr-developer-id", developer))

    step = "connect"
    if args.ca:
        def read(path):
            with open(path, "rb") as f:
                return f.read()
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read(args.ca),
            private_key=read(args.client_key) if args.client_key else None,
            certificate_chain=read(args.client_cert) if args.client_cert else None,
        )
        channel = grpc.secure_channel(args.addr, credentials)
    else:
        channel = grpc.insecure_channel(args.addr)
    try:
        grpc.channel_ready_future(channel).result(timeout=T)
        print(f"ok   connect: channel to {args.addr} ready")

        providers = providers_pb2_grpc.ProviderServiceStub(channel)
        strategies = strategies_pb2_grpc.StrategyServiceStub(channel)
        products = products_pb2_grpc.ProductServiceStub(channel)
        apps = applications_pb2_grpc.ApplicationServiceStub(channel)

        # a. provider
        step = "a. CreateProvider"
        provider = providers.CreateProvider(
            providers_pb2.CreateProviderRequest(provider=providers_pb2.Provider(
                name=f"py-provider-{suffix}",
                issuer=args.issuer,
                rfc7591=providers_pb2.Rfc7591Config(
                    initial_access_token=args.initial_access_token),
                active=True,
            )),
            metadata=admin_md, timeout=T)
        check(provider.id, f"no id in response: {provider}")
        check(provider.WhichOneof("config") == "rfc7591",
              f"config is {provider.WhichOneof('config')!r}, want 'rfc7591'")
        check(provider.rfc7591.initial_access_token == "",
              "write-only secret rfc7591.initial_access_token came back in the response")
        check(provider.issuer == args.issuer,
              f"issuer {provider.issuer!r}, want {args.issuer!r}")
        print(f"ok   {step}: id={provider.id}, initial_access_token not echoed")

        # b. invalid issuer
        step = "b. CreateProvider(invalid issuer)"
        try:
            bad = providers.CreateProvider(
                providers_pb2.CreateProviderRequest(provider=providers_pb2.Provider(
                    name=f"py-bad-{suffix}",
                    issuer="not a url",
                    rfc7591=providers_pb2.Rfc7591Config(),
                    active=True,
                )),
                metadata=admin_md, timeout=T)
            raise CheckFailed(f"succeeded, want INVALID_ARGUMENT: {bad}")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.INVALID_ARGUMENT,
                  f"code {e.code()}, want INVALID_ARGUMENT ({e.details()})")
            status = rpc_status.from_call(e)
            check(status is not None, "no grpc-status-details-bin in the trailers")
            violations = []
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    br = error_details_pb2.BadRequest()
                    detail.Unpack(br)
                    violations.extend(br.field_violations)
            check(violations, f"status details carry no google.rpc.BadRequest: "
                  f"{[d.type_url for d in status.details]}")
            fields = [v.field for v in violations]
            check("provider.issuer" in fields,
                  f"no field violation for provider.issuer, got {fields}")
            desc = next(v.description for v in violations if v.field == "provider.issuer")
            print(f"ok   {step}: INVALID_ARGUMENT, BadRequest provider.issuer: {desc}")

        # c. strategy and product
        step = "c. CreateStrategy"
        strategy = strategies.CreateStrategy(
            strategies_pb2.CreateStrategyRequest(strategy=strategies_pb2.AuthStrategy(
                name=f"py-strategy-{suffix}",
                provider_id=provider.id,
                auto_approve=True,
            )),
            metadata=admin_md, timeout=T)
        check(strategy.id, f"no id in response: {strategy}")
        check(strategy.provider_id == provider.id,
              f"provider_id {strategy.provider_id!r}, want {provider.id!r}")
        check(strategy.auto_approve, "auto_approve came back false")
        print(f"ok   {step}: id={strategy.id}")

        step = "c. CreateProduct"
        product = products.CreateProduct(
            products_pb2.CreateProductRequest(product=products_pb2.ApiProduct(
                name=f"py-product-{suffix}",
                strategy_id=strategy.id,
            )),
            metadata=admin_md, timeout=T)
        check(product.id, f"no id in response: {product}")
        check(product.strategy_id == strategy.id,
              f"strategy_id {product.strategy_id!r}, want {strategy.id!r}")
        print(f"ok   {step}: id={product.id}")

        # d. application lifecycle, as a developer through the portal
        step = "d. CreateApplication"
        created = apps.CreateApplication(
            applications_pb2.CreateApplicationRequest(
                name=f"py-app-{suffix}", strategy_id=strategy.id),
            metadata=portal_md, timeout=T)
        app = created.application
        check(app.id, f"no application id: {created}")
        check(app.client_id, f"application.client_id is empty: {app}")
        check(app.state == applications_pb2.APPLICATION_STATE_ACTIVE,
              f"state {applications_pb2.ApplicationState.Name(app.state)}, want "
              f"APPLICATION_STATE_ACTIVE (failure_reason={app.failure_reason!r})")
        check(app.developer_id == developer,
              f"developer_id {app.developer_id!r}, want {developer!r}")
        check(created.credential.client_secret, "credential.client_secret is empty")
        print(f"ok   {step}: id={app.id}, client_id={app.client_id}, state=ACTIVE, "
              f"secret issued (hint {created.credential.secret_hint})")

        step = "d. GetApplication"
        got = apps.GetApplication(applications_pb2.GetApplicationRequest(id=app.id),
                                  metadata=portal_md, timeout=T)
        check(got.id == app.id and got.client_id == app.client_id,
              f"got {got}, want id={app.id} client_id={app.client_id}")
        check(created.credential.client_secret not in str(got),
              "GetApplication response contains the client secret")
        print(f"ok   {step}: same application, no secret")

        step = "d. ListApplications"
        listed = apps.ListApplications(applications_pb2.ListApplicationsRequest(),
                                       metadata=portal_md, timeout=T)
        ids = [a.id for a in listed.applications]
        check(app.id in ids, f"{app.id} not among {ids}")
        print(f"ok   {step}: contains {app.id} ({len(ids)} listed)")

        step = "d. CreateRegistration"
        reg = apps.CreateRegistration(
            applications_pb2.CreateRegistrationRequest(
                application_id=app.id, product_id=product.id),
            metadata=portal_md, timeout=T)
        check(reg.id, f"no registration id: {reg}")
        check(reg.status == registrations_pb2.REGISTRATION_STATUS_APPROVED,
              f"status {registrations_pb2.RegistrationStatus.Name(reg.status)}, "
              "want REGISTRATION_STATUS_APPROVED (strategy auto_approve)")
        print(f"ok   {step}: id={reg.id}, APPROVED")

        step = "d. DeleteApplication"
        apps.DeleteApplication(applications_pb2.DeleteApplicationRequest(id=app.id),
                               metadata=portal_md, timeout=T)
        print(f"ok   {step}: deleted {app.id}")

        step = "d. GetApplication(deleted)"
        try:
            ghost = apps.GetApplication(applications_pb2.GetApplicationRequest(id=app.id),
                                        metadata=portal_md, timeout=T)
            raise CheckFailed(f"succeeded after delete, want NOT_FOUND: {ghost}")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.NOT_FOUND,
                  f"code {e.code()}, want NOT_FOUND ({e.details()})")
        print(f"ok   {step}: NOT_FOUND")

        # e. health
        step = "e. Health/Check"
        health = health_pb2_grpc.HealthStub(channel)
        resp = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=T)
        check(resp.status == health_pb2.HealthCheckResponse.SERVING,
              f"status {health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)}, "
              "want SERVING")
        print(f"ok   {step}: SERVING")
    except CheckFailed as e:
        print(f"FAIL {step}: {e}", file=sys.stderr)
        return 1
    except grpc.FutureTimeoutError:
        print(f"FAIL {step}: no connection to {args.addr} within {T}s", file=sys.stderr)
        return 1
    except grpc.RpcError as e:
        print(f"FAIL {step}: RPC error {e.code()}: {e.details()}", file=sys.stderr)
        return 1
    finally:
        channel.close()

    print("registry_client: all steps passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
