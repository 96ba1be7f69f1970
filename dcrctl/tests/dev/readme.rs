//! The README's examples, run as a reader runs them: every ```sh block marked
//! `<!-- tested with dcrctl dev -->`, in order, in one bash script, in a folder where
//! `dcrctl dev` keeps its data in `.dcr`. A command followed directly by `# ` lines has its
//! sample output there, and what it prints (stdout and stderr) must match it:
//! - `...` inside a line stands for any text, a line of just `...` for any number of lines;
//! - a trailing `(exit N)` is the exit code it must end with (otherwise 0).
//!
//! A command without a sample must exit 0. The README's addresses are `dcrctl dev`'s
//! defaults; the test runs on free ports and maps them both ways.

use std::fmt::Write as _;

use crate::{Ports, start, workspace_root};

const MARKER: &str = "<!-- tested with dcrctl dev -->";
/// A block the reader saves as a file: the marker ends with its name.
const FILE_MARKER: &str = "<!-- tested with dcrctl dev: written to ";
/// The block that shows what `dcrctl dev` prints when it starts.
const BANNER_MARKER: &str = "<!-- tested with dcrctl dev: its banner -->";

/// One command of a block, with the sample output the README shows for it.
#[derive(Debug)]
struct Step {
    /// Where it is in README.md, for messages.
    line: usize,
    command: String,
    /// Lines of the sample output (the `# ` removed); empty when none is shown.
    sample: Vec<String>,
    exit: i32,
}

/// The marked blocks' lines, each with its README line number.
fn marked_blocks(readme: &str) -> Vec<Vec<(usize, &str)>> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((_, line)) = lines.next() {
        if line.trim() != MARKER {
            continue;
        }
        let (at, fence) = lines.next().expect("a block after the marker");
        assert_eq!(
            fence.trim(),
            "```sh",
            "README.md:{at}: the marker is not followed by ```sh"
        );
        blocks.push(
            lines
                .by_ref()
                .take_while(|(_, l)| l.trim() != "```")
                .collect(),
        );
    }
    blocks
}

/// The lines of the plain block after the banner marker.
fn banner(readme: &str) -> Vec<String> {
    let (_, after) = readme
        .split_once(BANNER_MARKER)
        .expect("the banner's marker");
    let after = after
        .trim_start()
        .strip_prefix("```\n")
        .expect("a ``` block");
    let (block, _) = after.split_once("\n```").expect("the block's end");
    block.lines().map(str::to_owned).collect()
}

/// The files the README asks the reader to write: (name, content).
fn files(readme: &str) -> Vec<(String, String)> {
    readme
        .split(FILE_MARKER)
        .skip(1)
        .map(|part| {
            let (name, after) = part.split_once(" -->").expect("the marker's end");
            let (_, after) = after.split_once("```").expect("a block");
            let (_, body) = after.split_once('\n').expect("the fence line");
            let (content, _) = body.split_once("```").expect("the block's end");
            (name.to_owned(), content.to_owned())
        })
        .collect()
}

/// Splits `(exit N)` off a sample's line.
fn exit_code(line: &str) -> (String, Option<i32>) {
    if let Some(rest) = line.trim_end().strip_suffix(')')
        && let Some((text, code)) = rest.rsplit_once("(exit ")
        && let Ok(code) = code.parse()
    {
        return (text.trim_end().to_owned(), Some(code));
    }
    (line.to_owned(), None)
}

/// Commands (joining `\` continuations) and the `# ` lines directly under each. A comment
/// after a blank line, or before any command, is prose.
fn steps(block: &[(usize, &str)]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut after_command = false;
    let mut continuing = false;
    for &(at, line) in block {
        let trimmed = line.trim();
        if continuing {
            let step = steps.last_mut().expect("a command");
            step.command.push('\n');
            step.command.push_str(line);
            continuing = trimmed.ends_with('\\');
            continue;
        }
        if trimmed.is_empty() {
            after_command = false;
        } else if let Some(comment) = trimmed.strip_prefix('#') {
            if after_command {
                let step = steps.last_mut().expect("a command");
                let (text, exit) = exit_code(comment.strip_prefix(' ').unwrap_or(comment));
                step.sample.push(text);
                step.exit = exit.unwrap_or(step.exit);
            }
        } else {
            steps.push(Step {
                line: at,
                command: line.to_owned(),
                sample: Vec::new(),
                exit: 0,
            });
            after_command = true;
            continuing = trimmed.ends_with('\\');
        }
    }
    steps
}

/// Does `text` match `pattern`, where each `...` stands for any text?
fn line_matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split("...").collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Do the output's lines match the sample's, where a line of `...` stands for any lines?
fn lines_match(sample: &[String], output: &[&str]) -> bool {
    match sample.split_first() {
        None => output.is_empty(),
        Some((first, rest)) if first.trim() == "..." => {
            (0..=output.len()).any(|skip| lines_match(rest, &output[skip..]))
        }
        Some((first, rest)) => output.split_first().is_some_and(|(line, more)| {
            line_matches(first.trim_end(), line) && lines_match(rest, more)
        }),
    }
}

/// The dev defaults the README shows, and where this run's stack really is.
fn addresses(ports: &Ports) -> Vec<(String, String)> {
    vec![
        (
            "localhost:50051".into(),
            format!("localhost:{}", ports.registry),
        ),
        (
            "localhost:50052".into(),
            format!("localhost:{}", ports.token),
        ),
        (
            "localhost:8080".into(),
            format!("localhost:{}", ports.token_http),
        ),
        (
            "localhost:50053".into(),
            format!("localhost:{}", ports.authz),
        ),
        (
            "localhost:8090".into(),
            format!("localhost:{}", ports.portal),
        ),
        (
            "127.0.0.1:9000".into(),
            format!("127.0.0.1:{}", ports.emulator),
        ),
    ]
}

/// One script: each command's output framed by markers, with its exit code.
fn script(steps: &[Step], ports: &Ports) -> String {
    let mut out = String::from("exec 2>&1\n");
    for (i, step) in steps.iter().enumerate() {
        let mut command = step.command.clone();
        for (readme, real) in addresses(ports) {
            command = command.replace(&readme, &real);
        }
        let _ = write!(
            out,
            "printf '\\n@@@ start {i}\\n'\n{command}\nprintf '\\n@@@ exit {i} %s\\n' \"$?\"\n"
        );
    }
    out
}

/// Each command's output (addresses mapped back to the README's) and exit code.
fn outputs(printed: &str, count: usize, ports: &Ports) -> Vec<Option<(String, i32)>> {
    let mut printed = printed.to_owned();
    for (readme, real) in addresses(ports) {
        printed = printed.replace(&real, &readme);
    }
    (0..count)
        .map(|i| {
            let (_, after) = printed.split_once(&format!("\n@@@ start {i}\n"))?;
            let end = format!("\n@@@ exit {i} ");
            let (text, code) = after.split_once(&end)?;
            let code = code.lines().next()?.trim().parse().ok()?;
            Some((text.to_owned(), code))
        })
        .collect()
}

fn clean(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |e| e + 1);
    lines[start..end].to_vec()
}

#[test]
fn samples_match_their_own_rules() {
    let sample = |lines: &[&str]| lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
    assert!(line_matches("id 01a...", "id 01a2-33"));
    assert!(!line_matches("id 01a...", "id 0oa"));
    assert!(line_matches("a ... c ... e", "a b c d e"));
    assert!(!line_matches("ALLOW", "ALLOW (HTTP 200)"));
    assert!(lines_match(
        &sample(&["ALLOW", "..."]),
        &["ALLOW", "x", "y"]
    ));
    assert!(!lines_match(
        &sample(&["ALLOW"]),
        &["ALLOW", "developer dev-1"]
    ));
    assert_eq!(
        exit_code("DENY: x      (exit 1)"),
        ("DENY: x".to_owned(), Some(1))
    );
    let block = [
        (1, "# prose"),
        (2, "dcrctl check \\"),
        (3, "  --basic"),
        (4, "# DENY (exit 1)"),
        (5, ""),
        (6, "# prose again"),
        (7, "dcrctl audit list"),
    ];
    let parsed = steps(&block);
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[0].command, "dcrctl check \\\n  --basic");
    assert_eq!(
        (parsed[0].sample.clone(), parsed[0].exit),
        (sample(&["DENY"]), 1)
    );
    assert!(parsed[1].sample.is_empty());
}

#[tokio::test]
async fn the_readme_examples_print_what_the_readme_shows() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README");
    let steps: Vec<Step> = marked_blocks(&readme)
        .iter()
        .flat_map(|block| steps(block))
        .collect();
    assert!(
        steps.iter().filter(|s| !s.sample.is_empty()).count() >= 10,
        "the README's tested blocks show sample outputs: {steps:#?}"
    );

    let folder = tempfile::tempdir().expect("tempdir");
    for (name, content) in files(&readme) {
        std::fs::write(folder.path().join(name), content).expect("write the README's file");
    }
    let ports = Ports::free();
    let dev = start(&folder.path().join(".dcr"), ports, &[]).await;
    // The banner, as a reader in that folder would see it.
    let mut printed = dev
        .printed
        .replace(&format!("{}/", folder.path().display()), "");
    for (readme, real) in addresses(&ports) {
        printed = printed.replace(&real, &readme);
    }
    let mut problems = String::new();
    let shown = banner(&readme);
    if !lines_match(&shown, &clean(&printed)) {
        let _ = writeln!(
            problems,
            "dcrctl dev printed:\n{printed}\nREADME shows:\n{}\n",
            shown.join("\n")
        );
    }

    let run = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(script(&steps, &ports))
        .current_dir(folder.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", folder.path())
        .output()
        .await
        .expect("bash");
    let printed = String::from_utf8_lossy(&run.stdout);
    for (step, output) in steps.iter().zip(outputs(&printed, steps.len(), &ports)) {
        let Some((text, code)) = output else {
            let _ = writeln!(
                problems,
                "README.md:{}: `{}` did not finish",
                step.line, step.command
            );
            break;
        };
        let lines = clean(&text);
        let sample_ok = step.sample.is_empty() || lines_match(&step.sample, &lines);
        if code != step.exit || !sample_ok {
            let _ = writeln!(
                problems,
                "README.md:{}: `{}`\n  exit {code} (README: {})\n  printed:\n{}\n  README shows:\n{}\n",
                step.line,
                step.command,
                step.exit,
                lines
                    .iter()
                    .map(|l| format!("    # {l}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                step.sample
                    .iter()
                    .map(|l| format!("    # {l}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
    }
    assert!(dev.interrupt().await.success());
    assert!(
        problems.is_empty(),
        "the README differs from what its examples do:\n{problems}"
    );
}

/// Relative link targets in a Markdown text: `[text](target)`, without `#anchors`.
fn relative_links(markdown: &str) -> Vec<String> {
    markdown
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(target, _)| target))
        .filter(|target| !target.contains("://") && !target.starts_with('#'))
        .map(|target| target.split('#').next().unwrap_or(target).to_owned())
        .collect()
}

#[test]
fn the_readme_and_docs_link_only_to_files_in_the_repository() {
    let root = workspace_root();
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("entry").path();
        // Pages only (docs/images holds the screenshots they show).
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("page");
        let dir = page.parent().expect("dir");
        for target in relative_links(&text) {
            let path = dir.join(&target);
            let inside = path
                .canonicalize()
                .is_ok_and(|path| path.starts_with(&root));
            if !inside {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    assert!(relative_links("[a](docs/x.md) [b](https://e.org) [c](#top)") == ["docs/x.md"]);
    assert!(
        broken.is_empty(),
        "links to files a clone does not have: {broken:#?}"
    );
}
