//! TLS to the database, asked for in the URL as libpq's users write it.
//!
//! - `sslmode=require`, `verify-ca` or `verify-full`: TLS, and the server's certificate must
//!   be valid for its host name and signed by a root the system trusts or by the CA in
//!   `sslrootcert=<PEM file>`. (Stricter than libpq's `require`, which encrypts without
//!   checking whom it talks to: an unchecked certificate protects against no one who can
//!   intercept the connection.)
//! - `sslmode=disable`, `prefer` (libpq's default) or none: plain TCP, which is what `prefer`
//!   ends up with against a server that does not insist, and what a database on the same
//!   host or a private network is usually reached with.
//!
//! tokio-postgres knows neither `verify-*` nor `sslrootcert`, so [`parse`] takes them out of
//! the URL before handing it over. The handshake is rustls (aws-lc-rs), through
//! tokio-postgres-rustls.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

/// How connections to the database are made.
#[derive(Clone)]
pub(super) enum Tls {
    Plain,
    Verified(MakeRustlsConnect),
}

/// The driver's configuration of `url`, and how to connect with it.
pub(super) fn parse(url: &str) -> Result<(tokio_postgres::Config, Tls), StoreError> {
    let (url, root_certificate) = libpq_only(url);
    // The error names what is wrong without repeating the URL, which may hold a password.
    let config = url
        .parse::<tokio_postgres::Config>()
        .map_err(|error| StoreError::Internal(format!("the database URL: {error}")))?;
    let tls = match config.get_ssl_mode() {
        SslMode::Require => Tls::Verified(verified(root_certificate.as_deref())?),
        _ => Tls::Plain,
    };
    Ok((config, tls))
}

/// `url` as tokio-postgres reads it: `sslmode=verify-ca` and `verify-full` become `require`
/// (which is verified here), and `sslrootcert`, taken out, is returned.
fn libpq_only(url: &str) -> (String, Option<PathBuf>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut root_certificate = None;
    let mut kept = Vec::new();
    for parameter in query.split('&') {
        match parameter.split_once('=') {
            Some(("sslrootcert", path)) => root_certificate = Some(PathBuf::from(path)),
            Some(("sslmode", "verify-ca" | "verify-full")) => kept.push("sslmode=require".into()),
            _ => kept.push(parameter.to_string()),
        }
    }
    if kept.is_empty() {
        (base.to_string(), root_certificate)
    } else {
        (format!("{base}?{}", kept.join("&")), root_certificate)
    }
}

/// A TLS connector that trusts the system's roots and, if given, the certificates of the PEM
/// file `root_certificate`.
fn verified(root_certificate: Option<&Path>) -> Result<MakeRustlsConnect, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    // A system without a certificate store still works with `sslrootcert`; the unreadable
    // certificates are skipped, as every TLS client does.
    let system = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(system.certs);
    if let Some(path) = root_certificate {
        let shown = path.display();
        let certificates = CertificateDer::pem_file_iter(path)
            .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
            .map_err(|error| {
                StoreError::Internal(format!("reading sslrootcert {shown}: {error}"))
            })?;
        if certificates.is_empty() {
            return Err(StoreError::Internal(format!(
                "sslrootcert {shown} holds no certificate"
            )));
        }
        for certificate in certificates {
            roots.add(certificate).map_err(|error| {
                StoreError::Internal(format!("a certificate of sslrootcert {shown}: {error}"))
            })?;
        }
    }
    if roots.is_empty() {
        return Err(StoreError::Internal(
            "sslmode asks for TLS, but the system trusts no root certificate: give the \
             database's CA with sslrootcert=<PEM file>"
                .to_string(),
        ));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| StoreError::Internal(format!("configuring TLS: {error}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_parameters_are_translated_and_the_rest_kept() {
        assert_eq!(
            libpq_only("postgres://u@h/d?sslmode=verify-full&sslrootcert=/ca.pem&user=x"),
            (
                "postgres://u@h/d?sslmode=require&user=x".to_string(),
                Some(PathBuf::from("/ca.pem"))
            )
        );
        assert_eq!(
            libpq_only("postgres://u@h/d?sslrootcert=/ca.pem"),
            (
                "postgres://u@h/d".to_string(),
                Some(PathBuf::from("/ca.pem"))
            )
        );
        assert_eq!(
            libpq_only("postgres://u@h/d"),
            ("postgres://u@h/d".to_string(), None)
        );
    }

    #[test]
    fn only_a_required_tls_is_verified_tls() {
        let mode = |url: &str| match parse(url) {
            Ok((_, Tls::Plain)) => "plain",
            Ok((_, Tls::Verified(_))) => "verified",
            Err(_) => "refused",
        };
        assert_eq!(mode("postgres://u@h/d"), "plain");
        assert_eq!(mode("postgres://u@h/d?sslmode=prefer"), "plain");
        assert_eq!(mode("postgres://u@h/d?sslmode=disable"), "plain");
        assert_eq!(mode("postgres://u@h/d?sslmode=bogus"), "refused");
        assert_eq!(
            mode("postgres://u@h/d?sslmode=require&sslrootcert=/no/such/file.pem"),
            "refused"
        );
    }
}
