//! Thunderbird's and Outlook's own words for a refused sign-in, a server out of reach or a
//! certificate, as people paste them into `explain`. Neither runs `connwatch token`: each
//! keeps its own OAuth tokens, so a refusal is fixed by signing in again *in that client*,
//! and `connwatch probe` on the same account shows the server's words, which both hide.
//!
//! Sources (read, not captured here: neither client runs on this machine): Thunderbird's
//! en-US strings in mozilla/releases-comm-central, `mail/locales/en-US/chrome/messenger/`
//! (`messenger.properties` oAuth2Error, mailServerLoginFailed2, connectionRefusedError,
//! netTimeoutError, netResetError; `imapMsgs.properties` imapOAuth2Error,
//! imapAuthMechNotSupported, imapTlsError, imapServerDisconnected; `composeMsgs.properties`
//! smtpAuthFailure, smtpServerError, smtpSendRequestRefused, smtpSendTimeout, startTlsFailed;
//! `localMsgs.properties` nsErrorCouldNotConnectViaTls) and `mail/locales/en-US/messenger/`
//! (`certError.ftl`, `oauth.ftl`). Outlook's codes: the `IXP_E_*` table of the Outlook
//! Express SDK header `imnxport.h` and MAPI's `mapicode.h`; the texts around them vary by
//! version, so the code decides.
use super::client::quote;
use super::{Cause, Diagnosis};

const TB_SIGN_IN: &str = "Sign in again in Thunderbird: remove the account's saved OAuth token (Settings → Privacy & Security → Saved Passwords, the oauth:// entry) and restart it. If a new sign-in is refused too, connwatch probe NAME for the same account shows the server's own words.";
const OUTLOOK_SIGN_IN: &str = "Sign in to the account again in Outlook (for Microsoft 365, remove its saved credentials in Windows Credential Manager first). If a new sign-in is refused too, connwatch probe NAME for the same account shows the server's own words.";
const NETWORK: &str = "Check the server's name and port in the client's account settings, and the network; the token is not the problem.";
const TLS: &str = "Check the server's name and the client's security setting (SSL/TLS or STARTTLS); a private CA must be trusted by the client. The token is not the problem.";

/// Thunderbird's words, most specific first.
pub(super) fn thunderbird(text: &str) -> Option<Diagnosis> {
    let line = |needle: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.contains(needle))
            .map(str::to_owned)
    };
    // A server reply Thunderbird quotes ("… The server responded:  535 5.7.139 …") is the
    // server's own words: read as such.
    if let Some(l) = line("The server responded:") {
        let reply = l
            .split_once("The server responded:")
            .map(|(_, r)| r.trim())?;
        if let Some(d) = super::diagnose_mail_text(reply.trim_end_matches('.')) {
            return Some(d);
        }
    }
    let refused = [
        // IMAP and POP with OAuth2: "Entering password does not help" (Thunderbird's note).
        "Authentication failure while connecting to server",
        // SMTP.
        "with username",
        "Unable to authenticate to Outgoing server (SMTP)",
    ];
    for needle in refused {
        let Some(said) = line(needle) else { continue };
        if needle == "with username"
            && !(said.starts_with("Login to server") && said.ends_with("failed."))
        {
            continue;
        }
        // "Login to server … failed." is Thunderbird's prompt for any protocol.
        let smtp = needle.contains("SMTP");
        let mut d = Diagnosis::of(
            Cause::BadCredentials,
            false,
            true,
            format!(
                "The server refused the OAuth token Thunderbird sent; Thunderbird says only {}{}.",
                quote(&said),
                if smtp {
                    " (SMTP AUTH turned off for the mailbox or tenant reads the same)"
                } else {
                    ""
                }
            ),
            TB_SIGN_IN,
        );
        d.code = Some(said.chars().take(60).collect());
        return Some(d);
    }
    if let Some(said) =
        line("needs you to confirm access again").or_else(|| line("Reauthorize access"))
    {
        let mut d = Diagnosis::of(
            Cause::InteractionRequired,
            false,
            true,
            format!(
                "Thunderbird's refresh token no longer works: it asks for a new sign-in ({}).",
                quote(&said)
            ),
            "Sign in again in Thunderbird's window (with your current password and second factor).",
        );
        d.code = Some(said.chars().take(60).collect());
        return Some(d);
    }
    if let Some(said) = line("does not support the selected authentication method") {
        let mut d = Diagnosis::of(
            Cause::ProtocolDisabled,
            false,
            false,
            format!(
                "The server does not offer the sign-in method Thunderbird is set to use ({}).",
                quote(&said)
            ),
            "Set the account's Authentication method to OAuth2 in Thunderbird's server settings; if it already is, OAuth is not enabled on the server — ask its admin.",
        );
        d.code = Some("authentication method".into());
        return Some(d);
    }
    let tls = [
        "Non-overridable TLS error",
        "Unable to establish TLS connection",
        "Unable to establish a secure link",
        "The certificate for ",
    ];
    if let Some(said) = tls.iter().find_map(|n| line(n)) {
        return Some(coded(Cause::Tls, "tls", &said, TLS));
    }
    let network = [
        "Failed to connect to server",
        "the connection was refused",
        "Connection to server ",
        "has disconnected. The server may have gone down",
        "connecting to Outgoing server (SMTP)",
        "the connection to Outgoing server (SMTP)",
    ];
    if let Some(said) = network
        .iter()
        .find_map(|n| line(n))
        .or_else(|| line("Outgoing server (SMTP) ").filter(|l| l.contains(" is unknown")))
    {
        return Some(coded(Cause::Network, "network", &said, NETWORK));
    }
    None
}

/// Outlook's `0x800CCC92`-style codes (with or without its "Task '…' reported error" frame).
pub(super) fn outlook(text: &str) -> Option<Diagnosis> {
    // Every 0x800….… code in the text (eight hex digits, no more), the first Outlook knows.
    let (code, said) = text.lines().map(str::trim).find_map(|line| {
        line.match_indices(['x', 'X']).find_map(|(i, _)| {
            let ok = line.get(i.checked_sub(1)?..i)? == "0";
            let hex = line.get(i + 1..i + 9)?;
            let ends = !line
                .get(i + 9..)
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_hexdigit()));
            let code = hex.to_ascii_uppercase();
            (ok && ends && hex.chars().all(|c| c.is_ascii_hexdigit()) && known(&code))
                .then(|| (code, line.to_owned()))
        })
    })?;
    let shown = format!("0x{code}");
    let mut d = match code.as_str() {
        // IXP_E_POP3_INVALID_PASSWORD, IXP_E_IMAP_LOGINFAILURE, IXP_E_SMTP_530..535 family.
        "800CCC92" | "800CCCD1" => {
            // "… The server responded: …" holds the server's own words.
            if let Some(reply) = said
                .split_once("The server responded:")
                .map(|(_, r)| r.trim())
                && let Some(d) = super::diagnose_mail_text(reply.trim_end_matches(['\'', '.']))
            {
                return Some(d);
            }
            Diagnosis::of(
                Cause::BadCredentials,
                false,
                true,
                format!(
                    "The mail server refused Outlook's sign-in ({shown}): {}.",
                    quote(&said)
                ),
                OUTLOOK_SIGN_IN,
            )
        }
        // FAILED_TO_CONNECT, CONNECTION_DROPPED, CANT_FIND_HOST, TIMEOUT; POP/SMTP connect
        // and response timeouts.
        "800CCC0E" | "800CCC0F" | "800CCC0D" | "800CCC19" | "80042108" | "80042109"
        | "8004210A" | "8004210B" => Diagnosis::of(
            Cause::Network,
            true,
            false,
            format!(
                "Outlook could not reach the mail server ({shown}): {}.",
                quote(&said)
            ),
            NETWORK,
        ),
        // SECURE_CONNECT_FAILED, INVALID_CERT_CN, INVALID_CERT_DATE.
        "800CCC1A" | "800CCC01" | "800CCC02" => Diagnosis::of(
            Cause::Tls,
            false,
            false,
            format!(
                "Outlook could not set up TLS with the mail server ({shown}): {}.",
                quote(&said)
            ),
            TLS,
        ),
        // IMAP_AUTH_NOT_POSSIBLE, IMAP_OUT_OF_AUTH_METHODS.
        "800CCCDF" | "800CCCE0" => Diagnosis::of(
            Cause::ProtocolDisabled,
            false,
            false,
            format!("The IMAP server offers no sign-in method Outlook can use ({shown})."),
            "For Microsoft 365 the account must sign in with Modern Authentication (OAuth); if the server does not offer OAuth, ask its admin.",
        ),
        // MAPI_E_NOT_FOUND, MAPI_E_CORRUPT_STORE: Outlook's profile or data file.
        "8004010F" | "80040600" => Diagnosis::of(
            Cause::Unknown,
            false,
            false,
            format!(
                "Outlook's profile or data file failed ({shown}), not the sign-in: {}.",
                quote(&said)
            ),
            "Repair the data file (scanpst / Account Settings → Data Files) or create a new Outlook profile; the token is not the problem.",
        ),
        _ => return None,
    };
    d.code = Some(shown);
    Some(d)
}

/// The Outlook codes read here.
fn known(code: &str) -> bool {
    [
        "800CCC92", "800CCCD1", "800CCC0E", "800CCC0F", "800CCC0D", "800CCC19", "80042108",
        "80042109", "8004210A", "8004210B", "800CCC1A", "800CCC01", "800CCC02", "800CCCDF",
        "800CCCE0", "8004010F", "80040600",
    ]
    .contains(&code)
}

fn coded(cause: Cause, code: &str, said: &str, action: &str) -> Diagnosis {
    let mut d = Diagnosis::of(
        cause,
        cause == Cause::Network,
        false,
        format!("The client says {}.", quote(said)),
        action,
    );
    d.code = Some(code.into());
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{FixBy, ProviderHint, diagnose_text};

    fn read(text: &str) -> Diagnosis {
        diagnose_text(text, ProviderHint::Unknown)
    }

    /// Thunderbird's en-US strings (placeholders filled as Thunderbird does).
    #[test]
    fn thunderbirds_words() {
        let d = read("Authentication failure while connecting to server outlook.office365.com.");
        assert_eq!((d.cause, d.needs_reauth), (Cause::BadCredentials, true));
        assert!(
            d.action.starts_with("Sign in again in Thunderbird"),
            "{}",
            d.action
        );
        let d = read("Login to server imap.gmail.com with username alice@example.org failed.");
        assert_eq!(d.cause, Cause::BadCredentials);
        let d = read(
            "Unable to authenticate to Outgoing server (SMTP) smtp.office365.com. Please check the password and verify the 'Authentication method' in 'Account Settings | Outgoing server (SMTP)'.",
        );
        assert_eq!(d.cause, Cause::BadCredentials);
        // The server's words, when Thunderbird quotes them, decide.
        let d = read(
            "Sending of the message failed.\nAn error occurred while sending mail: Outgoing server (SMTP) error. The server responded:  535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information..",
        );
        assert_eq!(
            (d.cause, d.fix_by),
            (Cause::ProtocolDisabled, FixBy::Admin),
            "{d:?}"
        );
        let d = read(
            "The IMAP server outlook.office365.com does not support the selected authentication method. Please change the 'Authentication method' in the 'Account Settings | Server settings'.",
        );
        assert_eq!(d.cause, Cause::ProtocolDisabled);
        for (text, cause) in [
            (
                "Failed to connect to server imap.example.org.",
                Cause::Network,
            ),
            (
                "Could not connect to server imap.example.org; the connection was refused.",
                Cause::Network,
            ),
            (
                "Connection to server imap.example.org timed out.",
                Cause::Network,
            ),
            (
                "Server imap.example.org has disconnected. The server may have gone down or there may be a network problem.",
                Cause::Network,
            ),
            (
                "The message could not be sent because connecting to Outgoing server (SMTP) smtp.example.org failed. The server may be unavailable or is refusing SMTP connections.",
                Cause::Network,
            ),
            (
                "An error occurred while sending mail: Outgoing server (SMTP) smtp.example.org is unknown.",
                Cause::Network,
            ),
            (
                "Non-overridable TLS error occurred. Handshake error or probably the TLS version or certificate used by server imap.example.org is incompatible.",
                Cause::Tls,
            ),
            (
                "The certificate for imap.example.org does not come from a trusted source.",
                Cause::Tls,
            ),
            (
                "An error occurred while sending mail: Unable to establish a secure link with Outgoing server (SMTP) smtp.example.org using STARTTLS since it doesn't advertise that feature.",
                Cause::Tls,
            ),
        ] {
            let d = read(text);
            assert_eq!(d.cause, cause, "{text}");
            assert!(!d.needs_reauth, "{text}");
        }
        let d = read(
            "Reauthorize access\nimap.gmail.com needs you to confirm access again to keep syncing with your account. Username: alice@example.org",
        );
        assert_eq!(
            (d.cause, d.needs_reauth),
            (Cause::InteractionRequired, true)
        );
    }

    /// Outlook's codes decide; the server's words it quotes decide more.
    #[test]
    fn outlooks_codes() {
        let d = read(
            "Task 'alice@contoso.com - Receiving' reported error (0x800CCC92) : 'Your e-mail server rejected your login. Verify your user name and password for this account in Account Settings.'",
        );
        assert_eq!((d.cause, d.needs_reauth), (Cause::BadCredentials, true));
        assert_eq!(d.code.as_deref(), Some("0x800CCC92"));
        assert!(d.action.contains("Outlook"), "{}", d.action);
        let d = read(
            "Task 'alice - Receiving' reported error (0x800CCC92) : 'Your e-mail server rejected your login. Verify your user name and password for this account in Account Settings. The server responded: -ERR Logon failure: unknown user name or bad password.'",
        );
        assert_eq!(d.cause, Cause::BadCredentials, "{d:?}");
        for (text, cause) in [
            (
                "Task 'work - Sending' reported error (0x80042109) : 'Outlook cannot connect to your outgoing (SMTP) e-mail server.'",
                Cause::Network,
            ),
            ("Send/Receive error (0x800ccc0e)", Cause::Network),
            ("reported error (0x800CCC1A)", Cause::Tls),
            // An unknown code first, a longer hex number: the known code decides.
            ("0x800CCCFF then 0x800CCC0E", Cause::Network),
            ("id 0x800CCC92AB; then (0x800CCC1A)", Cause::Tls),
            ("reported error (0x800CCCE0)", Cause::ProtocolDisabled),
            (
                "The operation failed. An object cannot be found. (0x8004010F)",
                Cause::Unknown,
            ),
        ] {
            let d = read(text);
            assert_eq!(d.cause, cause, "{text}");
            assert!(!d.needs_reauth, "{text}");
        }
    }
}
