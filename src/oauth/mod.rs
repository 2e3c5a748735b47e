//! OAuth 2.0 requests over our one HTTP client: device authorization (RFC 8628) and the
//! refresh-token grant (RFC 6749 §6). Responses are parsed leniently (Entra v1 sends numbers
//! as strings) and error bodies keep every field the provider sent.

pub mod browser;
mod client;
mod device;
pub mod redirect;
mod refresh;
mod response;
mod revoke;

pub use client::{Client, HttpClient, OAuthFailure};
pub use device::{DeviceAuthorization, Pacer, poll_device, start_device};
pub use refresh::refresh;
pub use response::{TokenErrorBody, TokenResponse};
pub use revoke::revoke;
