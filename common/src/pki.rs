//! A private CA and the certificates a dcr deployment needs: a server certificate for the
//! services' listeners and a client certificate for dcr's own channels and dcrctl (mTLS).
//! Made by `dcrctl certs` (a deployment), `dcrctl dev` (its own, on first start) and the
//! tests. Keys are ECDSA P-256; files are written owner-only.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::tls::{ClientTlsFiles, ServerTlsFiles};

/// How long the CA is valid; leaf certificates are valid for `LEAF_DAYS`.
const CA_DAYS: i64 = 3650;
const LEAF_DAYS: i64 = 825;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot make a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} exists already: certificates are never overwritten (remove the folder to make new ones)", .0.display())]
    Exists(PathBuf),
}

/// A certificate and its private key, PEM.
#[derive(Clone)]
pub struct Pem {
    pub cert: String,
    pub key: String,
}

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pem").finish_non_exhaustive()
    }
}

/// A CA that can sign certificates.
pub struct Ca {
    pem: Pem,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    // An hour back: clocks of the machines that check it may be a little behind.
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(days);
}

impl Ca {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Result<Self, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut params, CA_DAYS);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let pem = Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        };
        Ok(Self {
            pem,
            issuer: Issuer::new(params, key),
        })
    }

    pub fn pem(&self) -> &Pem {
        &self.pem
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server(&self, names: &[String]) -> Result<Pem, PkiError> {
        let cn = names.first().map_or("dcr", String::as_str);
        self.leaf(cn, names, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate named `name`.
    pub fn client(&self, name: &str) -> Result<Pem, PkiError> {
        self.leaf(name, &[], ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn leaf(
        &self,
        common_name: &str,
        names: &[String],
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<Pem, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => name.clone().try_into().map(SanType::DnsName),
            })
            .collect::<Result<_, _>>()?;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, LEAF_DAYS);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}

/// The files of one certificate set, as `write_set` lays them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFiles {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl SetFiles {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca-key.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client-key.pem"),
        }
    }

    /// What a listener serves; with `mtls`, clients must present a certificate of the CA.
    pub fn server_tls(&self, mtls: bool) -> ServerTlsFiles {
        ServerTlsFiles {
            cert: self.server_cert.clone(),
            key: self.server_key.clone(),
            client_ca: mtls.then(|| self.ca_cert.clone()),
        }
    }

    /// What a dcr client trusts and presents.
    pub fn client_tls(&self) -> ClientTlsFiles {
        ClientTlsFiles {
            ca: Some(self.ca_cert.clone()),
            identity: Some((self.client_cert.clone(), self.client_key.clone())),
        }
    }

    /// Whether a set is there already.
    pub fn exists(&self) -> bool {
        self.ca_cert.exists()
    }
}

/// Makes a CA, a server certificate for `server_names` and a client certificate
/// `client_name`, and writes them into `dir` (created 0700; keys 0600). Refuses to
/// overwrite an existing set.
pub fn write_set(
    dir: &Path,
    server_names: &[String],
    client_name: &str,
) -> Result<SetFiles, PkiError> {
    write_set_of(&Ca::new("dcr private CA")?, dir, server_names, client_name)
}

/// `write_set` with a CA of the caller's (which can go on signing, as tests do).
pub fn write_set_of(
    ca: &Ca,
    dir: &Path,
    server_names: &[String],
    client_name: &str,
) -> Result<SetFiles, PkiError> {
    let files = SetFiles::in_dir(dir);
    if files.exists() {
        return Err(PkiError::Exists(files.ca_cert));
    }
    let server = ca.server(server_names)?;
    let client = ca.client(client_name)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PkiError::File { path, source }
    };
    crate::private_files::create_dir(dir).map_err(io(dir))?;
    for (path, text) in [
        (&files.ca_cert, &ca.pem().cert),
        (&files.ca_key, &ca.pem().key),
        (&files.server_cert, &server.cert),
        (&files.server_key, &server.key),
        (&files.client_cert, &client.cert),
        (&files.client_key, &client.key),
    ] {
        crate::private_files::write(path, text.as_bytes()).map_err(io(path))?;
    }
    Ok(files)
}
