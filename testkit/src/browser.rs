//! A real headless Chromium for tests, driven through ChromeDriver (W3C WebDriver) with
//! fantoccini: what a person's browser does with a page (cookies, redirects, forms, CSP)
//! rather than what an HTTP client guesses it does.
//!
//! [`Browser::start`] launches ChromeDriver on a free port, waits for its `/status` to say
//! ready, and opens a session with a fresh profile. The convenience methods wait for what
//! they touch and panic with the page's URL when it does not come, so a test reads like
//! the steps a person takes:
//!
//! ```no_run
//! # async fn example() {
//! let browser = dcr_testkit::browser::Browser::start().await;
//! browser.goto("http://127.0.0.1:9000/sso/authorize?...").await;
//! browser.fill("#login", "alice").await;
//! browser.fill("#password", "alice-password").await;
//! browser.click("button[type=submit]").await;
//! let landed = browser.wait_for_url("http://127.0.0.1:8090/auth/callback").await;
//! # }
//! ```
//!
//! Binaries: `DCR_TEST_CHROMEDRIVER` (default `/usr/bin/chromedriver`) and
//! `DCR_TEST_CHROMIUM` (default `/usr/bin/chromium`); scripts/test installs and exports
//! them. Screenshots go to `DCR_TEST_SCREENSHOTS`, default `<workspace>/target/screenshots`.
//! Dropping the browser kills ChromeDriver's process group (Chromium with it) and reaps it.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::time::{Instant, sleep};
use url::Url;

const DEFAULT_CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
/// The window of [`Browser::start`]: a laptop screen.
pub const DEFAULT_SIZE: (u32, u32) = (1280, 900);
/// How long ChromeDriver and the first session may take (a cold Chromium on a busy
/// 2-core machine takes seconds).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`Browser::wait_for`] and friends wait for an element or a URL.
pub const WAIT: Duration = Duration::from_secs(15);
/// Between two looks at the page while waiting.
const POLL: Duration = Duration::from_millis(50);

/// Chromium's flags: headless, nothing that talks to the network on its own (updates,
/// sync, QUIC probes), no sandbox (tests may run as root in a container), `/tmp` instead
/// of a small `/dev/shm`.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// A headless Chromium session. See the module documentation.
pub struct Browser {
    client: Client,
    // Dropped after the client: kills the processes, then removes the profile.
    _driver: Driver,
}

/// The widths of the page's layout, for narrow-screen checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutWidths {
    /// `window.innerWidth`: what the screen shows.
    pub viewport: u64,
    /// `document.documentElement.scrollWidth`: what the page needs; wider than the
    /// viewport means a horizontal scroll bar.
    pub content: u64,
}

impl Browser {
    /// A browser with a 1280x900 window.
    pub async fn start() -> Self {
        Self::start_sized(DEFAULT_SIZE.0, DEFAULT_SIZE.1).await
    }

    /// A browser with a `width` x `height` window.
    pub async fn start_sized(width: u32, height: u32) -> Self {
        let chromedriver = env_path("DCR_TEST_CHROMEDRIVER", DEFAULT_CHROMEDRIVER);
        let chromium = env_path("DCR_TEST_CHROMIUM", DEFAULT_CHROMIUM);
        assert!(
            chromium.exists(),
            "Chromium is not at {} (set DCR_TEST_CHROMIUM, or apt-get install chromium chromium-driver; scripts/test does)",
            chromium.display()
        );
        let (driver, port) = Driver::start(&chromedriver).await;
        let webdriver = format!("http://127.0.0.1:{port}");
        wait_until_ready(&webdriver).await;

        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!(
            "--user-data-dir={}",
            driver.profile.path().display()
        ));
        args.push(format!("--window-size={width},{height}"));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let client = tokio::time::timeout(
            START_TIMEOUT,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&webdriver),
        )
        .await
        .unwrap_or_else(|_| panic!("no WebDriver session within {START_TIMEOUT:?}"))
        .unwrap_or_else(|e| {
            panic!(
                "ChromeDriver could not start Chromium ({}): {e}",
                chromium.display()
            )
        });
        let browser = Self {
            client,
            _driver: driver,
        };
        // The flag sizes the window; this makes it exact on every platform.
        browser.set_window_size(width, height).await;
        browser
    }

    /// The WebDriver client, for anything the methods below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Resizes the window, e.g. to 320 px wide for a narrow-screen check.
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("resize the window to {width}x{height}: {e}"));
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The URL of the page shown.
    pub async fn url(&self) -> Url {
        self.client
            .current_url()
            .await
            .unwrap_or_else(|e| panic!("read the current URL: {e}"))
    }

    /// The page's HTML as the browser has it now.
    pub async fn source(&self) -> String {
        self.client
            .source()
            .await
            .unwrap_or_else(|e| panic!("read the page source: {e}"))
    }

    /// The element `css` selects on the page now, if any (no waiting).
    pub async fn find(&self, css: &str) -> Option<Element> {
        self.client.find(Locator::Css(css)).await.ok()
    }

    /// The element `css` selects, once it is there; panics after [`WAIT`].
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(element) = self.find(css).await {
                return element;
            }
            if Instant::now() >= deadline {
                panic!(
                    "no element {css:?} within {WAIT:?} at {}: {}",
                    self.url().await,
                    brief(&self.source().await)
                );
            }
            sleep(POLL).await;
        }
    }

    /// The current URL once it starts with `prefix` (e.g. after a redirect chain);
    /// panics after [`WAIT`].
    pub async fn wait_for_url(&self, prefix: &str) -> Url {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.url().await;
            if url.as_str().starts_with(prefix) {
                return url;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the browser is at {url}, not {prefix}..., after {WAIT:?}: {}",
                    brief(&self.source().await)
                );
            }
            sleep(POLL).await;
        }
    }

    /// Types `value` into the field `css` (emptied first).
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.wait_for(css).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css:?}: {e}"));
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {css:?}: {e}"));
    }

    /// Clicks the element `css`.
    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css:?}: {e}"));
    }

    /// The visible text of the element `css`.
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("read the text of {css:?}: {e}"))
    }

    /// How wide the viewport is and how wide the page's content is.
    pub async fn layout_widths(&self) -> LayoutWidths {
        let widths = self
            .client
            .execute(
                "return [window.innerWidth, document.documentElement.scrollWidth];",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("measure the page: {e}"));
        let at = |i: usize| {
            widths[i]
                .as_u64()
                .unwrap_or_else(|| panic!("not a width: {widths}"))
        };
        LayoutWidths {
            viewport: at(0),
            content: at(1),
        }
    }

    /// Saves a PNG of the viewport as `<screenshots dir>/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("take a screenshot: {e}"));
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Ends the session (Chromium quits), then stops ChromeDriver. Dropping the browser
    /// without it kills both, which is as clean for the test.
    pub async fn close(self) {
        let Self { client, _driver } = self;
        if let Err(e) = client.close().await {
            eprintln!("closing the WebDriver session: {e}");
        }
    }
}

/// Where screenshots go: `DCR_TEST_SCREENSHOTS`, else `<workspace>/target/screenshots`.
pub fn screenshots_dir() -> PathBuf {
    std::env::var_os("DCR_TEST_SCREENSHOTS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots"))
}

fn env_path(name: &str, default: &str) -> PathBuf {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// The first part of a page, for failure messages.
fn brief(page: &str) -> String {
    const MAX: usize = 2_000;
    match page.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &page[..at]),
        None => page.to_owned(),
    }
}

/// Polls ChromeDriver's `GET /status` until it reports `ready`.
async fn wait_until_ready(webdriver: &str) {
    let http = reqwest::Client::new();
    let url = format!("{webdriver}/status");
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let status = match http.get(&url).send().await {
            Ok(response) => response.json::<Value>().await.ok(),
            Err(_) => None,
        };
        if status.as_ref().is_some_and(|s| s["value"]["ready"] == true) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ChromeDriver at {webdriver} not ready within {START_TIMEOUT:?}: {status:?}"
        );
        sleep(POLL).await;
    }
}

/// ChromeDriver in a process group of its own (Chromium starts inside it), and the
/// fresh profile Chromium uses.
struct Driver {
    child: Child,
    profile: tempfile::TempDir,
}

impl Driver {
    /// Starts `chromedriver --port=0` and reads the port it chose from its banner
    /// ("ChromeDriver was started successfully on port N."), so no port is guessed.
    async fn start(chromedriver: &PathBuf) -> (Self, u16) {
        let profile = tempfile::Builder::new()
            .prefix("dcr-chromium-")
            .tempdir()
            .unwrap_or_else(|e| panic!("create a Chromium profile folder: {e}"));
        let mut command = Command::new(chromedriver);
        command
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start ChromeDriver at {}: {e} (set DCR_TEST_CHROMEDRIVER, or apt-get install chromium chromium-driver; scripts/test does)",
                chromedriver.display()
            )
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        // A thread of its own reads the banner, then keeps draining ChromeDriver's
        // output so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = banner_port(&line)
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(port);
                }
            }
        });
        let driver = Self { child, profile };
        let port = match tokio::time::timeout(START_TIMEOUT, port_rx).await {
            Ok(Ok(port)) => port,
            Ok(Err(_)) => panic!(
                "ChromeDriver ({}) exited without listening",
                chromedriver.display()
            ),
            Err(_) => panic!("ChromeDriver did not say its port within {START_TIMEOUT:?}"),
        };
        (driver, port)
    }
}

/// The port in ChromeDriver's "... started successfully on port N." line.
fn banner_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once("started successfully on port ")?;
    rest.trim_end_matches(['.', ' ', '\r']).parse().ok()
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: ChromeDriver and the Chromium processes it started. Then
        // reap ChromeDriver (our child) so no zombie is left; Chromium's processes are
        // its children, reaped by init once it is gone.
        let group = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_read_from_the_banner() {
        assert_eq!(
            banner_port("ChromeDriver was started successfully on port 40247."),
            Some(40247)
        );
        assert_eq!(banner_port("Only local connections are allowed."), None);
    }

    #[test]
    fn long_pages_are_cut_for_messages() {
        assert_eq!(brief("short"), "short");
        let long = "é".repeat(3_000);
        assert_eq!(brief(&long).chars().count(), 2_001);
    }
}
