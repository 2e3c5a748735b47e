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
        let views = oneshot::initial_views(&mut handle, 1).await;
        let mut pending = Pending::new(views);
        pending.send(&mut handle, Request::SignIn { name: name.clone() });
        let mut result = None;
        // Lines typed or pasted on stdin, once a sign-in asks for the address back.
        let mut pasted: Option<tokio::sync::mpsc::UnboundedReceiver<String>> = None;
        // Pasted lines with the worker and not answered yet (several may be read before the
        // first answer comes back).
        let mut awaiting = 0usize;
        while result.is_none() {
            let event = tokio::select! {
                e = handle.events.recv() => e,
                line = next_line(&mut pasted), if pasted.is_some() => {
                    match line {
                        Some(text) => {
                            awaiting += 1;
                            let _ = handle.requests.send(Request::Pasted {
                                name: name.clone(),
                                text: crate::secret::Secret::new(text),
                            });
                        }
                        // `echo ADDRESS | connwatch login …`: the end of input comes right
                        // after the line; its answer is still awaited.
                        None if awaiting > 0 => pasted = None,
                        None => return abandon(handle, &name).await,
                    }
                    continue;
                }
                _ = tokio::signal::ctrl_c() => {
                    let _ = handle.requests.send(Request::CancelSignIn { name: name.clone() });
                    let _ = handle.requests.send(Request::Shutdown);
                    let _ = handle.task.await;
                    eprintln!("connwatch: sign-in of {name} cancelled; nothing was changed");
                    return Ok(ExitCode::from(INTERRUPTED));
                }
            };
            if let Some((v, _)) = event.as_ref().and_then(|e| pending.finished(e)) {
                result = Some(v);
                continue;
            }
            match event {
                None => break,
                Some(Event::DeviceCode(code)) if code.paste.is_some() => {
                    if let Some(why) = &code.refused {
                        let why = crate::sanitize::line(why);
                        awaiting = awaiting.saturating_sub(1);
                        if pasted.is_none() && awaiting == 0 {
                            eprintln!("  not taken: {why}");
                            return abandon(handle, &name).await;
                        }
                        if pasted.is_none() {
                            eprintln!("  not taken: {why}");
                        } else {
                            eprint!("  not taken: {why}\n  address: ");
                        }
                        continue;
                    }
                    eprint!(
                        "{}",
                        crate::sanitize::text(&paste_prompt(&code, account.as_deref()))
                    );
                    if let Err(e) = super::open_browser(&code.verification_uri) {
                        eprintln!(
                            "  (could not open a browser: {e}; open the page above yourself)"
                        );
                    }
                    eprint!("  address: ");
                    pasted = Some(read_lines());
                }
                Some(Event::DeviceCode(code)) if code.user_code.is_empty() => {
                    eprint!(
                        "{}",
                        crate::sanitize::text(&browser_prompt(&code, account.as_deref()))
                    );
                    if let Err(e) = super::open_browser(&code.verification_uri) {
                        eprintln!(
                            "  (could not open a browser: {e}; open the page above yourself)"
                        );
                    }
                }
                Some(Event::DeviceCode(code)) => {
                    eprint!(
                        "{}",
                        crate::sanitize::text(&device_prompt(&code, account.as_deref()))
                    );
                }
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
                        // The server's words: defused for the terminal.
                        let d = d.for_display();
                        eprintln!(
                            "{name}: but {} refuses the token: {}{}: {} {}",
                            d.probe.as_deref().unwrap_or("the resource"),
                            d.cause,
                            oneshot::code_suffix(&d),
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

/// Stdin ended with nothing (more) to paste: cancel the sign-in, change nothing.
async fn abandon(
    mut handle: crate::worker::WorkerHandle,
    name: &str,
) -> Result<ExitCode, CommandError> {
    let _ = handle.requests.send(Request::CancelSignIn {
        name: name.to_owned(),
    });
    let _ = handle.requests.send(Request::Shutdown);
    let _ = (&mut handle.task).await;
    eprintln!(
        "connwatch: {name}: nothing was pasted (stdin closed); the sign-in was abandoned and nothing was changed"
    );
    Ok(ExitCode::from(FAILURE))
}

/// The browser ends on an address nothing here listens on: ask for it back.
fn paste_prompt(code: &DeviceCodeView, account: Option<&str>) -> String {
    let who = account.map(|a| format!(" as {a}")).unwrap_or_default();
    format!(
        "To sign in {name}{who}, open this page in a browser (it should open by itself):\n  \
         open: {uri}\n  Once signed in, the browser goes to {back}, which may show an error \
         page;\n  copy the whole address from the address bar (or the code the page shows) and \
         paste it here, then Enter.\n  Until {at}. (Ctrl-C cancels)\n",
        name = code.name,
        uri = code.verification_uri,
        back = code.paste.as_deref().unwrap_or("the app's address"),
        at = code.expires_at.strftime("%H:%M:%SZ"),
    )
}

/// Read stdin line by line on a thread of its own (a blocking read cannot be cancelled; the
/// thread ends with the process). The channel closes at end of input.
fn read_lines() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut line = String::new();
        loop {
            line.clear();
            match stdin.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(std::mem::take(&mut line)).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

async fn next_line(
    rx: &mut Option<tokio::sync::mpsc::UnboundedReceiver<String>>,
) -> Option<String> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// A failed sign-in is fixed by trying again (or by what the provider asks), never by
/// "run: connwatch login" — that is what was just run.
fn sign_in_failure(name: &str, d: &crate::diagnose::Diagnosis) -> String {
    let code = oneshot::code_suffix(d);
    let line = format!(
        "{name}: sign-in failed: {}{code}: {} {}",
        d.cause, d.summary, d.action
    );
    crate::sanitize::line(&line).into_owned()
}
