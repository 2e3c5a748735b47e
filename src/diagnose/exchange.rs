//! Exchange Online IMAP/POP/SMTP answers to XOAUTH2, pasted as plain text. They are opaque
//! on purpose (reference §1 "Exchange Online"), so the summary lists the usual reasons.
use super::Cause;
use super::catalogue::Entry;

pub(super) fn protocol_error(text: &str) -> Option<Entry> {
    let t = text.to_ascii_lowercase();
    let entry = if t.contains("5.7.139") || t.contains("smtpclientauthentication is disabled") {
        Entry::new(
            Cause::ProtocolDisabled,
            "SMTP AUTH is disabled for the tenant or the mailbox.",
            "Ask the Exchange admin to enable SMTP AUTH for this mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false).",
        )
    } else if t.contains("authenticate failed") || t.contains("5.7.3 authentication unsuccessful") {
        Entry::new(
            Cause::Unknown,
            "Exchange refused the token without saying why: usually the wrong audience (not https://outlook.office.com), a missing IMAP/SMTP scope, or a token for another user.",
            "Run connwatch decode on the token with --expect-audience https://outlook.office.com --expect-scope IMAP.AccessAsUser.All (or SMTP.Send).",
        )
    } else {
        return None;
    };
    Some(entry)
}
