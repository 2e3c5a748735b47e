//! Drivers for real components the suites share: a private D-Bus session bus, Dovecot, the
//! paste-back browser login, tmux, and `connwatch watch` as a child process.
pub mod dbus;
pub mod dovecot;
pub mod paste_login;
pub mod tmux;
pub mod watch;
