//! Certificate-bound access tokens (RFC 8705 §3): which certificate a client's tokens are
//! bound to at issuance.

use super::Confirmation;
use crate::certificates::thumbprint;
use crate::error::OAuthError;
use crate::model::Client;
use crate::request::PeerInfo;

/// The `cnf` of the tokens issued to `client` over the connection `peer`: the certificate's
/// `x5t#S256` when the client is registered for bound tokens (a certificate is then required),
/// `None` otherwise.
pub(super) fn certificate_binding(
    client: &Client,
    peer: &PeerInfo,
) -> Result<Option<Confirmation>, OAuthError> {
    if !client.tls_client_certificate_bound_access_tokens {
        return Ok(None);
    }
    let Some(leaf) = peer.client_certificate() else {
        return Err(OAuthError::invalid_request(
            "this client's tokens are bound to its TLS client certificate, and none was presented",
        ));
    };
    Ok(Some(Confirmation {
        jkt: None,
        x5t_s256: Some(thumbprint(leaf)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn a_bound_client_needs_a_certificate_and_others_get_no_binding() {
        let mut client = Client::new("c");
        let without = PeerInfo::default();
        let with = PeerInfo {
            remote_addr: None,
            client_certificates: vec![b"leaf".to_vec(), b"ca".to_vec()],
        };
        assert_eq!(certificate_binding(&client, &with).expect("ok"), None);
        client.tls_client_certificate_bound_access_tokens = true;
        let bound = certificate_binding(&client, &with).expect("bound");
        assert_eq!(bound.and_then(|b| b.x5t_s256), Some(thumbprint(b"leaf")));
        let error = certificate_binding(&client, &without).expect_err("refused");
        assert_eq!(error.code, ErrorCode::InvalidRequest);
    }
}
