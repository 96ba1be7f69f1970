//! `dcrctl certs`: a private CA, a server certificate for the services and a client
//! certificate for dcr's own channels and dcrctl (mTLS), written to a folder. Never
//! overwrites: a second run on the same folder is refused, or with --if-missing keeps
//! the set that is there (a compose job that runs at every `up`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::Ctx;

#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Where to write ca.pem, ca-key.pem, server.pem, server-key.pem, client.pem and
    /// client-key.pem (created 0700; keys 0600).
    #[arg(long, default_value = "dcr-certs")]
    pub out: PathBuf,
    /// A name the services are reached by (DNS name or IP address); repeat for each.
    /// The health subcommand needs `localhost`.
    #[arg(
        long = "name",
        default_values_t = ["localhost".to_owned(), "127.0.0.1".to_owned()]
    )]
    pub names: Vec<String>,
    /// The client certificate's name.
    #[arg(long, default_value = "dcr-client")]
    pub client_name: String,
    /// When the folder holds a set already, keep it and succeed.
    #[arg(long)]
    pub if_missing: bool,
}

pub fn run(_ctx: &Ctx, args: CertsArgs) -> anyhow::Result<ExitCode> {
    if args.if_missing && dcr_common::pki::SetFiles::in_dir(&args.out).exists() {
        println!("{} holds certificates already: kept.", args.out.display());
        return Ok(ExitCode::SUCCESS);
    }
    let files = dcr_common::pki::write_set(&args.out, &args.names, &args.client_name)?;
    let show = |p: &std::path::Path| p.display().to_string();
    println!(
        "Wrote a CA and certificates for {} to {}.\n\n\
         Services (TLS, and mTLS with the client CA):\n  \
         DCR_TLS_CERT_FILE={}\n  DCR_TLS_KEY_FILE={}\n  DCR_TLS_CLIENT_CA_FILE={}\n\
         dcr's own channels and dcrctl (https:// URLs):\n  \
         DCR_TLS_CA_FILE={}\n  DCR_TLS_CLIENT_CERT_FILE={}\n  DCR_TLS_CLIENT_KEY_FILE={}\n\n\
         Keep {} offline: whoever has it can make certificates these services trust.",
        args.names.join(", "),
        show(&args.out),
        show(&files.server_cert),
        show(&files.server_key),
        show(&files.ca_cert),
        show(&files.ca_cert),
        show(&files.client_cert),
        show(&files.client_key),
        show(&files.ca_key),
    );
    Ok(ExitCode::SUCCESS)
}
