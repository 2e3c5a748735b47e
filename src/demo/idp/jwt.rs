//! The demo IdP's signing key (RSA 2048, new on every start, like oidc-provider) and JWTs.
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub(super) struct SigningKey {
    key: EncodingKey,
    pub kid: String,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl SigningKey {
    pub fn generate() -> std::io::Result<Self> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| std::io::Error::other("RSA key generation failed"))?;
        let pkcs8 = pair
            .as_der()
            .map_err(|_| std::io::Error::other("cannot export the RSA key"))?;
        // jsonwebtoken's aws-lc backend takes PKCS#1 (RFC 8017); aws-lc exports PKCS#8.
        let pkcs1 = pkcs1_from_pkcs8(pkcs8.as_ref())
            .ok_or_else(|| std::io::Error::other("unexpected PKCS#8 layout"))?;
        let public: PublicKeyComponents<Vec<u8>> = pair.public_key().into();
        let kid = URL_SAFE_NO_PAD.encode(&public.n[..16.min(public.n.len())]);
        Ok(SigningKey {
            key: EncodingKey::from_rsa_der(pkcs1),
            kid,
            n: public.n,
            e: public.e,
        })
    }

    /// Sign `claims` as an RS256 JWT; `nonce` adds Graph's header nonce.
    pub fn sign(&self, claims: &Value, nonce: Option<String>) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        header.kid = Some(self.kid.clone());
        header.x5t = Some(self.kid.clone());
        if let Some(n) = nonce {
            header.extras.insert("nonce", n);
        }
        jsonwebtoken::encode(&header, claims, &self.key)
            .expect("RS256 with a generated key cannot fail")
    }

    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "x5t": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.n), "e": URL_SAFE_NO_PAD.encode(&self.e),
        }]})
    }
}

/// PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm SEQUENCE, privateKey OCTET STRING }
/// (RFC 5208 §5); the OCTET STRING holds the PKCS#1 RSAPrivateKey.
fn pkcs1_from_pkcs8(der: &[u8]) -> Option<&[u8]> {
    fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            (
                rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize),
                &rest[n..],
            )
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }
    let (0x30, body, _) = tlv(der)? else {
        return None;
    };
    let (0x02, _, rest) = tlv(body)? else {
        return None;
    };
    let (0x30, _, rest) = tlv(rest)? else {
        return None;
    };
    let (0x04, key, _) = tlv(rest)? else {
        return None;
    };
    Some(key)
}
