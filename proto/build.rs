//! Generates the dcr protobuf code at build time with a vendored `protoc`, so building
//! needs no system protobuf compiler and the generated code can never go stale.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "dcr/registry/v1/providers.proto",
    "dcr/registry/v1/strategies.proto",
    "dcr/registry/v1/products.proto",
    "dcr/registry/v1/registrations.proto",
    "dcr/registry/v1/applications.proto",
    "dcr/registry/v1/directory.proto",
    "dcr/registry/v1/audit.proto",
    "dcr/registry/v1/identity.proto",
    "dcr/token/v1/token.proto",
    "dcr/authz/v1/authz.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // tonic-prost-build finds protoc through PROTOC. set_var is unsafe since edition
    // 2024 because of other threads; a build script has none.
    unsafe { std::env::set_var("PROTOC", &protoc) };
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("dcr_descriptor.bin"))
        .compile_protos(PROTOS, &["."])?;
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    Ok(())
}
