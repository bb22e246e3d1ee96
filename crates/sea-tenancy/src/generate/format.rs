//! Formatting of generated source: comments back from their placeholders, blank lines between
//! items, and `rustfmt` when installed, so the output is what `cargo fmt` would leave.

/// Prefix of a comment placeholder's text (see `render::comment`).
pub(crate) const COMMENT_MARK: &str = "\u{1}";

/// Turns `__comment__!("text");` statements (however the formatter wrapped them) into `//`
/// lines, wrapped at 100 columns, and separates items with blank lines.
pub(crate) fn uncomment(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("__comment__!(") {
        let line_start = rest[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let indent = rest[line_start..at].to_owned();
        out.push_str(&rest[..line_start]);
        let after = &rest[at + "__comment__!(".len()..];
        // The literal ends at its closing quote (the text itself may contain `);`).
        let open = after.find('"').expect("placeholder holds a string");
        let mut close = open + 1;
        let bytes = after.as_bytes();
        while bytes[close] != b'"' {
            close += if bytes[close] == b'\\' { 2 } else { 1 };
        }
        let lit = &after[open..=close];
        let end = close + after[close..].find(");").expect("placeholder is closed");
        let value = syn::parse_str::<syn::LitStr>(lit)
            .map(|l| l.value())
            .unwrap_or_default();
        let value = value.trim_start_matches(COMMENT_MARK);
        for wrapped in wrap(value, 100usize.saturating_sub(indent.len() + 3)) {
            out.push_str(&format!("{indent}// {wrapped}\n"));
        }
        rest = &after[end + 2..];
        rest = rest.strip_prefix('\n').unwrap_or(rest);
    }
    out.push_str(rest);
    let mut spaced = String::new();
    let mut prev = "";
    for line in out.lines() {
        let opens_item = line.starts_with("use ")
            || line.starts_with("#[")
            || line.starts_with("    async fn down");
        if opens_item && !prev.is_empty() && !prev.starts_with("#[") {
            spaced.push('\n');
        }
        spaced.push_str(line);
        spaced.push('\n');
        prev = line;
    }
    spaced
}

pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.len() + 1 + word.len() > width {
            lines.push(word.to_owned());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// `rustfmt --edition 2024` when it is installed (the workspace's `cargo fmt --check` then
/// agrees byte for byte); prettyplease's output as it is otherwise.
pub(crate) fn rustfmt(text: String) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let Ok(mut child) = Command::new("rustfmt")
        .args(["--edition", "2024"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return text;
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(text.as_bytes());
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() && !out.stdout.is_empty() => {
            String::from_utf8(out.stdout).unwrap_or(text)
        }
        _ => text,
    }
}
