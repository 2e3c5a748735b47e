//! `connwatch login NAME [--device]`: interactive sign-in without the dashboard. What the
//! person (or a script) must act on — the verification URL and the user code — goes to
//! stderr, so stdout carries only the one-line result. Exit 0 once signed in.
use std::process::ExitCode;

use super::exit::{CommandError, FAILURE, INTERRUPTED};
use super::oneshot::{self, Pending};
use super::runtime;
use crate::cli::{Cli, LoginArgs};
use crate::clock::{Clock, SystemClock};
use crate::config::Flow;
use crate::worker::{DeviceCodeView, Event, Request};

pub fn run(cli: &Cli, args: &LoginArgs) -> Result<ExitCode, CommandError> {
    let mut scope = oneshot::scope(cli, std::slice::from_ref(&args.name), false)?;
    // The flags override the connection's `flow` for this sign-in only.
    if args.browser {
        scope.config.connections[0].flow = Flow::Browser;
    } else if args.device {
        scope.config.connections[0].flow = Flow::Device;
    }
    let name = args.name.clone();
    let account = scope.config.connections[0].account.clone();
    runtime()?.block_on(async {
        let mut handle = oneshot::spawn(&scope);
        oneshot::initial_views(&mut handle, 1).await;
        let mut pending = Pending::default();
        pending.add(&name);
        let _ = handle.requests.send(Request::SignIn { name: name.clone() });
        let mut result = None;
        while result.is_none() {
            let event = tokio::select! {
                e = handle.events.recv() => e,
                _ = tokio::signal::ctrl_c() => {
                    let _ = handle.requests.send(Request::CancelSignIn { name: name.clone() });
                    let _ = handle.requests.send(Request::Shutdown);
                    let _ = handle.task.await;
                    eprintln!("connwatch: sign-in of {name} cancelled; nothing was changed");
                    return Ok(ExitCode::from(INTERRUPTED));
                }
            };
            match event {
                None => break,
                Some(Event::DeviceCode(code)) if code.user_code.is_empty() => {
                    eprint!("{}", browser_prompt(&code, account.as_deref()));
                    if let Err(e) = super::open_browser(&code.verification_uri) {
                        eprintln!(
                            "  (could not open a browser: {e}; open the page above yourself)"
                        );
                    }
                }
                Some(Event::DeviceCode(code)) => {
                    eprint!("{}", device_prompt(&code, account.as_deref()));
                }
                Some(Event::Connection(v)) if pending.finished(&v) => result = Some(*v),
                Some(_) => {}
            }
        }
        let _ = handle.requests.send(Request::Shutdown);
        let _ = handle.task.await;
        match result {
            Some(v) if v.last_error.is_none() && v.token_preview.is_some() => {
                println!(
                    "{name}: signed in; {}",
                    oneshot::expiry_phrase(&v, SystemClock.now())
                );
                if !v.has_refresh_token {
                    eprintln!(
                        "{name}: warning: no refresh token was issued, so this sign-in lasts only \
                         as long as the access token ({})",
                        v.note
                            .as_deref()
                            .unwrap_or("check the scopes for offline_access")
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Some(v) => {
                match &v.last_error {
                    // Signed in, but the resource refuses the new token: say which and why.
                    Some(d) if d.probe.is_some() && v.token_preview.is_some() => {
                        println!(
                            "{name}: signed in; {}",
                            oneshot::expiry_phrase(&v, SystemClock.now())
                        );
                        eprintln!(
                            "{name}: but {} refuses the token: {}{}: {} {}",
                            d.probe.as_deref().unwrap_or("the resource"),
                            d.cause,
                            oneshot::code_suffix(d),
                            d.summary,
                            d.action_for(&name)
                        );
                    }
                    Some(d) => eprintln!("{}", sign_in_failure(&name, d)),
                    None => eprintln!("{name}: the sign-in did not complete"),
                }
                Ok(ExitCode::from(FAILURE))
            }
            None => Err(CommandError::Failed(format!(
                "{name}: the worker stopped before the sign-in finished"
            ))),
        }
    })
}

/// What to do, in the provider's words where it gave some; the URL and code on their own
/// lines so a script can pick them out (`open:` and `code:`).
fn device_prompt(code: &DeviceCodeView, account: Option<&str>) -> String {
    let now = SystemClock.now();
    let who = account.map(|a| format!(" as {a}")).unwrap_or_default();
    format!(
        "To sign in {name}{who}, open the page below and enter the code.\n  open: {uri}\n  \
         code: {user_code}\n  expires in {left} ({at}); waiting… (Ctrl-C cancels)\n",
        name = code.name,
        uri = code.verification_uri,
        user_code = code.user_code,
        left = crate::ui::format::countdown(code.expires_at, now),
        at = code.expires_at.strftime("%H:%M:%SZ"),
    )
}

fn browser_prompt(code: &DeviceCodeView, account: Option<&str>) -> String {
    let who = account.map(|a| format!(" as {a}")).unwrap_or_default();
    format!(
        "To sign in {name}{who}, open this page in a browser (it should open by itself):\n  \
         open: {uri}\n  waiting until {at} for the browser to come back… (Ctrl-C cancels)\n",
        name = code.name,
        uri = code.verification_uri,
        at = code.expires_at.strftime("%H:%M:%SZ"),
    )
}

/// A failed sign-in is fixed by trying again (or by what the provider asks), never by
/// "run: connwatch login" — that is what was just run.
fn sign_in_failure(name: &str, d: &crate::diagnose::Diagnosis) -> String {
    let code = oneshot::code_suffix(d);
    format!(
        "{name}: sign-in failed: {}{code}: {} {}",
        d.cause, d.summary, d.action
    )
}
