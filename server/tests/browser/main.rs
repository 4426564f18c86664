//! The reference page (`/docs`) in a real browser: headless Chromium against a running
//! server, checking the rendered DOM rather than the HTML source.
//!
//! How: the test speaks the Chrome DevTools Protocol to Debian's `chromium` over
//! `--remote-debugging-pipe` ([`cdp`], ~150 lines, no new crates). `--dump-dom` alone cannot
//! see network requests or console messages, and the DevTools crates (`chromiumoxide`,
//! `headless_chrome`) would add a WebSocket stack and thousands of generated protocol types
//! to a cold build for the handful of commands used here. Over the pipe the test sees every
//! request the page makes (`Network.requestWillBeSent`: none may leave for another host),
//! every console message, exception and browser log entry (`Runtime.*`, `Log.entryAdded`:
//! none may be an error, which also catches anything the page's Content-Security-Policy
//! blocks), queries the DOM after layout (`Runtime.evaluate`), and takes screenshots at a
//! desktop and a phone width (`Emulation.setDeviceMetricsOverride`,
//! `Page.captureScreenshot`), written to `target/tmp/docs-screenshots/`.
//!
//! Where Chromium is missing (`CHROMIUM`, or `chromium` / `chromium-browser` on `PATH`), the
//! test is reported ignored ("needs Chromium"), never passed; this binary has its own harness
//! (libtest-mimic) so that it can decide at run time. With `CI` set a missing browser fails it
//! instead. `.ci/run`
//! installs it.

mod cdp;

use std::path::{Path, PathBuf};

use base64::Engine;
use leads_server::testing::TestServer;
use serde_json::{Value, json};

use cdp::Browser;
use libtest_mimic::{Arguments, Failed, Trial};

/// Viewports: name, width, height, mobile.
const VIEWPORTS: [(&str, u32, u32, bool); 2] =
    [("desktop", 1280, 900, false), ("phone", 390, 844, true)];

fn main() {
    let arguments = Arguments::from_args();
    let binary = chromium();
    assert!(
        binary.is_some() || std::env::var_os("CI").is_none(),
        "CI is set but no Chromium was found: install it (`apt-get install -y chromium`) or name \
         it in CHROMIUM"
    );
    let trial = Trial::test("the_reference_page_in_a_real_browser", move || {
        let binary = binary.ok_or("no Chromium")?;
        the_reference_page_in_a_real_browser(binary).map_err(Failed::from)
    })
    .with_ignored_flag(chromium().is_none());
    libtest_mimic::run(&arguments, vec![trial]).exit();
}

/// The page a server serves at `/docs`, checked in the browser at `binary`.
fn the_reference_page_in_a_real_browser(binary: PathBuf) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| format!("no runtime: {error}"))?;
    runtime.block_on(async {
        let server = TestServer::start()
            .await
            .map_err(|error| format!("the server starts: {error:#}"))?;
        let url = format!("{}/docs", server.base_url());
        tokio::task::spawn_blocking(move || check_page(&binary, &url))
            .await
            .map_err(|error| format!("the browser test runs: {error}"))?
    })
}

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| [dir.join("chromium"), dir.join("chromium-browser")])
        .find(|candidate| candidate.is_file())
}

fn check_page(binary: &Path, url: &str) -> Result<(), String> {
    let profile = tempfile::tempdir().map_err(|error| error.to_string())?;
    let mut browser = Browser::launch(binary, profile.path())?;
    let target = browser.call(None, "Target.createTarget", json!({"url": "about:blank"}))?;
    let attached = browser.call(
        None,
        "Target.attachToTarget",
        json!({"targetId": target["targetId"], "flatten": true}),
    )?;
    let session = attached["sessionId"]
        .as_str()
        .ok_or("no DevTools session")?
        .to_string();
    let page = Some(session.as_str());
    for domain in ["Page", "Network", "Runtime", "Log"] {
        browser.call(page, &format!("{domain}.enable"), json!({}))?;
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("docs-screenshots");
    std::fs::create_dir_all(&shots).map_err(|error| error.to_string())?;
    for (index, (name, width, height, mobile)) in VIEWPORTS.into_iter().enumerate() {
        browser.call(
            page,
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )?;
        browser.call(page, "Page.navigate", json!({"url": url}))?;
        browser.wait_for_event("Page.loadEventFired")?;
        if index == 0 {
            check_dom(&mut browser, page)?;
        }
        let overflow = evaluate(
            &mut browser,
            page,
            "document.documentElement.scrollWidth - window.innerWidth",
        )?;
        if overflow.as_i64().is_some_and(|pixels| pixels > 0) {
            return Err(format!(
                "at {name} width the page is {overflow}px wider than the screen"
            ));
        }
        screenshot(&mut browser, page, &shots.join(format!("{name}-top.png")))?;
        evaluate(
            &mut browser,
            page,
            "document.getElementById('lead_create').scrollIntoView(), 0",
        )?;
        screenshot(
            &mut browser,
            page,
            &shots.join(format!("{name}-lead_create.png")),
        )?;
    }
    // Let late requests and messages arrive, then look at everything the page did.
    evaluate(
        &mut browser,
        page,
        "new Promise(done => setTimeout(() => done(0), 300))",
    )?;
    check_traffic(&browser, url)
}

/// What the reader must see: every operation's section, and the Create lead section as the
/// seed page shows it.
fn check_dom(browser: &mut Browser, page: Option<&str>) -> Result<(), String> {
    let spec = leads_spec::load_workspace_spec(Path::new(env!("CARGO_MANIFEST_DIR")))
        .map_err(|error| error.to_string())?;
    let document = leads_spec::Document::new(&spec);
    for operation in document.operations() {
        let id = operation.id().ok_or("an operation without operationId")?;
        let shown = evaluate(
            browser,
            page,
            &format!(
                "(() => {{ const s = document.getElementById({id:?}); \
                 return s ? s.querySelector('.endpoint').textContent.replace(/\\s+/g, ' ').trim() : null }})()"
            ),
        )?;
        let expected = format!("{} {}", operation.method.to_uppercase(), operation.path);
        if !shown
            .as_str()
            .is_some_and(|text| text.starts_with(&expected))
        {
            return Err(format!("section #{id} shows {shown}, not {expected}"));
        }
    }
    let escaped = evaluate(browser, page, "document.body.innerText.includes('<code>')")?;
    if escaped != Value::Bool(false) {
        return Err("the page shows escaped markup (`<code>`) as text".to_string());
    }
    let create = evaluate(browser, page, include_str!("create_lead.js"))?;
    let create: Value = serde_json::from_str(create.as_str().ok_or("no Create lead section")?)
        .map_err(|error| error.to_string())?;
    let field = |name: &str| -> Result<String, String> {
        create["fields"][name]
            .as_str()
            .map(String::from)
            .ok_or_else(|| format!("the request body shows no field `{name}`: {create}"))
    };
    expect(&field("email")?, &["required", "Format", "email"], "email")?;
    for optional in ["company", "full_name", "phone", "timezone", "metadata"] {
        expect(&field(optional)?, &["optional"], optional)?;
    }
    expect(&field("phone")?, &[r"^\+[1-9]\d{1,14}$"], "phone")?;
    expect(
        &field("metadata")?,
        &["Lead attribution metadata", "Pass null or omit to skip"],
        "metadata",
    )?;
    let text = |key: &str| create[key].as_str().unwrap_or_default().to_string();
    expect(
        &text("auth"),
        &["Authorization: Bearer"],
        "the authentication",
    )?;
    expect(
        &text("curl"),
        &[
            "curl -X POST \"https://api.aura-app.ai/v1/leads\"",
            "-H \"Content-Type: application/json\"",
            "\"email\": \"john@example.com\"",
        ],
        "the curl example",
    )?;
    expect(
        &text("created"),
        &["\"email\": \"john@example.com\"", "\"status\": \"new\""],
        "the 201 example",
    )?;
    expect(
        &text("conflict"),
        &["\"code\": \"CONFLICT\"", "\"success\": false"],
        "the 409 error example",
    )
}

fn expect(text: &str, needles: &[&str], what: &str) -> Result<(), String> {
    match needles.iter().find(|needle| !text.contains(**needle)) {
        Some(missing) => Err(format!("{what} does not show {missing:?}: {text}")),
        None => Ok(()),
    }
}

/// No request left for another host, and nothing was logged as an error.
fn check_traffic(browser: &Browser, url: &str) -> Result<(), String> {
    let origin = url.trim_end_matches("/docs");
    let mut problems = Vec::new();
    let mut requests = 0;
    for event in &browser.events {
        let params = &event["params"];
        match event["method"].as_str().unwrap_or_default() {
            "Network.requestWillBeSent" => {
                requests += 1;
                let target = params["request"]["url"].as_str().unwrap_or_default();
                if !target.starts_with(origin) && !target.starts_with("data:") {
                    problems.push(format!("a request left for another host: {target}"));
                }
            }
            "Runtime.consoleAPICalled"
                if params["type"] == "error" || params["type"] == "warning" =>
            {
                problems.push(format!("console {}: {}", params["type"], params["args"]));
            }
            "Runtime.exceptionThrown" => {
                problems.push(format!("exception: {}", params["exceptionDetails"]));
            }
            "Log.entryAdded" if params["entry"]["level"] == "error" => {
                problems.push(format!("log error: {}", params["entry"]["text"]));
            }
            _ => {}
        }
    }
    if requests == 0 {
        problems.push("no request was seen at all: is the Network domain enabled?".to_string());
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("\n")),
    }
}

fn evaluate(browser: &mut Browser, page: Option<&str>, expression: &str) -> Result<Value, String> {
    let result = browser.call(
        page,
        "Runtime.evaluate",
        json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
    )?;
    if let Some(exception) = result.get("exceptionDetails") {
        return Err(format!("evaluating {expression}: {exception}"));
    }
    Ok(result["result"]["value"].clone())
}

fn screenshot(browser: &mut Browser, page: Option<&str>, path: &Path) -> Result<(), String> {
    let shot = browser.call(page, "Page.captureScreenshot", json!({"format": "png"}))?;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap_or_default())
        .map_err(|error| error.to_string())?;
    std::fs::write(path, png).map_err(|error| format!("{}: {error}", path.display()))?;
    eprintln!("screenshot: {}", path.display());
    Ok(())
}
