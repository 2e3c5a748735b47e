//! The SASL strings that carry a bearer token, and the error challenge servers send back.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::target::Mechanism;

/// The initial client response, base64-encoded as IMAP, SMTP and POP want it.
/// XOAUTH2: `user=U ^A auth=Bearer T ^A ^A` (Google's and Microsoft's documentation).
/// OAUTHBEARER (RFC 7628 §3.1): GS2 header `n,a=U,` then `host`, `port`, `auth` key/values.
pub fn initial_response(mech: Mechanism, user: &str, host: &str, port: u16, token: &str) -> String {
    let raw = match mech {
        Mechanism::XOAuth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
        Mechanism::OAuthBearer => {
            // RFC 5801 §4: ',' and '=' in the authzid are escaped.
            let a = user.replace('=', "=3D").replace(',', "=2C");
            format!("n,a={a},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01")
        }
    };
    STANDARD.encode(raw)
}

/// What the client answers to the error challenge so the server sends its final reply: an
/// empty response for XOAUTH2, a single `^A` for OAUTHBEARER (RFC 7628 §3.2.3).
pub fn challenge_answer(mech: Mechanism) -> &'static str {
    match mech {
        Mechanism::XOAuth2 => "",
        Mechanism::OAuthBearer => "AQ==",
    }
}

/// The JSON of a base64 error challenge (`{"status":"401","schemes":"bearer",…}`), when the
/// payload is one.
pub fn decode_challenge(payload: &str) -> Option<serde_json::Value> {
    let bytes = STANDARD.decode(payload.trim()).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_as_documented() {
        let x = initial_response(
            Mechanism::XOAuth2,
            "someuser@example.com",
            "h",
            993,
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
        );
        // Google's worked example (developers.google.com/gmail/imap/xoauth2-protocol).
        assert_eq!(
            x,
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
        let b = initial_response(
            Mechanism::OAuthBearer,
            "a,b=c@x",
            "imap.example.com",
            143,
            "t",
        );
        let raw = String::from_utf8(STANDARD.decode(b).unwrap()).unwrap();
        assert_eq!(
            raw,
            "n,a=a=2Cb=3Dc@x,\x01host=imap.example.com\x01port=143\x01auth=Bearer t\x01\x01"
        );
    }

    #[test]
    fn challenges() {
        let v = decode_challenge(
            "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJtYWlsIn0=",
        )
        .unwrap();
        assert_eq!(v["status"], "401");
        assert!(decode_challenge("not base64!").is_none());
        assert!(decode_challenge(&STANDARD.encode("[1]")).is_none());
    }
}
