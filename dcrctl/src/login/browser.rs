//! Opening the sign-in address. Only when `$BROWSER` names a program (the convention
//! `xdg-open`, `sensible-browser` and Python's `webbrowser` follow): dcrctl never guesses
//! at a desktop, so on a server or over SSH it just prints the address.

use std::process::{Command, Stdio};

/// Starts `$BROWSER` on `url` (the first of its `:`-separated commands; `%s` in it is
/// replaced by the URL, else the URL is the last argument). Returns whether a program
/// was started; the person can always open the printed address instead.
pub fn open(url: &str) -> bool {
    let Some(browser) = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
    else {
        return false;
    };
    let command = browser.split(':').next().unwrap_or_default();
    let mut words = command.split_whitespace();
    let Some(program) = words.next() else {
        return false;
    };
    let mut args: Vec<String> = words.map(|w| w.replace("%s", url)).collect();
    if !command.contains("%s") {
        args.push(url.to_owned());
    }
    let started = Command::new(program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match started {
        Ok(mut child) => {
            // Reaped in the background: a browser launcher exits soon, a browser may not.
            std::thread::spawn(move || child.wait());
            true
        }
        Err(_) => false,
    }
}
