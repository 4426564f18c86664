//! TLS to the database, asked for in the URL as libpq's users write it.
//!
//! - `sslmode=require`, `verify-ca` or `verify-full`: TLS, and the server's certificate must
//!   be valid for its host name and signed by a root the system trusts or by the CA in
//!   `sslrootcert=<PEM file>`. (Stricter than libpq's `require`, which encrypts without
//!   checking whom it talks to: an unchecked certificate protects against no one who can
//!   intercept the connection.)
//! - `sslmode=prefer`, or no `sslmode` (libpq's default is `prefer`): as libpq does, TLS first,
//!   and plain TCP if the server answers that it has no TLS. The certificate is not checked,
//!   as libpq does not check it in this mode: the connection is private from anyone who only
//!   listens, not from anyone who can intercept it (SCRAM's channel binding, which
//!   tokio-postgres uses when the server offers it, still catches such a one during password
//!   authentication). A server that offers TLS and then fails the handshake is an error, not a
//!   reason to fall back to plain TCP.
//! - `sslmode=disable`: plain TCP.
//!
//! `sslrootcert` names the CA to check the certificate against, so it only makes sense with a
//! mode that checks it: with `disable`, `prefer` or no `sslmode` it is refused rather than
//! ignored, since whoever wrote it expected a verified connection.
//!
//! tokio-postgres knows neither `verify-*` nor `sslrootcert`, so [`parse`] takes them out of
//! the URL before handing it over. The handshake is rustls (aws-lc-rs), through
//! tokio-postgres-rustls.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

/// How connections to the database are made.
#[derive(Clone)]
pub(super) enum Tls {
    /// Plain TCP (`sslmode=disable`).
    Plain,
    /// TLS if the server has it, its certificate unchecked; else plain TCP (`prefer`).
    Opportunistic(MakeRustlsConnect),
    /// TLS with a checked certificate, or no connection (`require`, `verify-*`).
    Verified(MakeRustlsConnect),
}

/// The driver's configuration of `url`, and how to connect with it.
pub(super) fn parse(url: &str) -> Result<(tokio_postgres::Config, Tls), StoreError> {
    let (url, root_certificate) = libpq_only(url);
    // The error names what is wrong without repeating the URL, which may hold a password.
    let config = url
        .parse::<tokio_postgres::Config>()
        .map_err(|error| StoreError::Internal(format!("the database URL: {error}")))?;
    let tls = match (config.get_ssl_mode(), root_certificate) {
        (SslMode::Require, root_certificate) => {
            Tls::Verified(verified(root_certificate.as_deref())?)
        }
        (mode, Some(_)) => {
            let mode = match mode {
                SslMode::Disable => "sslmode=disable",
                _ => "sslmode=prefer (the default when the URL has no sslmode)",
            };
            return Err(StoreError::Internal(format!(
                "the database URL gives sslrootcert, but {mode} never checks a certificate: \
                 add sslmode=verify-full to check the server's certificate against it, or \
                 remove sslrootcert"
            )));
        }
        (SslMode::Disable, None) => Tls::Plain,
        (_, None) => Tls::Opportunistic(unverified()?),
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

/// A TLS connector that takes whatever certificate the server shows, as libpq's `prefer`
/// does: the handshake's signatures are still checked, so the connection is encrypted to
/// whoever holds the key of the certificate shown.
fn unverified() -> Result<MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| StoreError::Internal(format!("configuring TLS: {error}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Accepts every certificate; checks the handshake's signatures with the provider's
/// algorithms.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
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

    /// How `url` connects: its mode, or `refused: <why>`.
    fn mode(url: &str) -> String {
        match parse(url) {
            Ok((_, Tls::Plain)) => "plain".to_owned(),
            Ok((_, Tls::Opportunistic(_))) => "tls first, unchecked".to_owned(),
            Ok((_, Tls::Verified(_))) => "verified".to_owned(),
            Err(error) => format!("refused: {error}"),
        }
    }

    #[test]
    fn prefer_and_no_sslmode_try_tls_first_and_only_require_is_verified() {
        assert_eq!(mode("postgres://u@h/d"), "tls first, unchecked");
        assert_eq!(
            mode("postgres://u@h/d?sslmode=prefer"),
            "tls first, unchecked"
        );
        assert_eq!(mode("postgres://u@h/d?sslmode=disable"), "plain");
        for verifying in ["require", "verify-ca", "verify-full"] {
            assert_eq!(
                mode(&format!("postgres://u@h/d?sslmode={verifying}")),
                "verified"
            );
        }
        assert!(mode("postgres://u@h/d?sslmode=bogus").starts_with("refused"));
        assert!(
            mode("postgres://u@h/d?sslmode=require&sslrootcert=/no/such/file.pem")
                .starts_with("refused: storage failure: reading sslrootcert")
        );
    }

    #[test]
    fn sslrootcert_without_a_mode_that_verifies_is_refused_not_ignored() {
        for url in [
            "postgres://u@h/d?sslrootcert=/ca.pem",
            "postgres://u@h/d?sslrootcert=/ca.pem&sslmode=prefer",
            "postgres://u@h/d?sslmode=disable&sslrootcert=/ca.pem",
        ] {
            let outcome = mode(url);
            assert!(
                outcome.starts_with("refused") && outcome.contains("sslmode=verify-full"),
                "{url}: {outcome}"
            );
        }
    }
}
