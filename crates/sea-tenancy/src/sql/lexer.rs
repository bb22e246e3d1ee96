//! A PostgreSQL tokenizer just deep enough to find table references.
//!
//! It knows what can hide a keyword or an identifier — string literals (`'..'`, `E'..'`),
//! dollar quoting, quoted identifiers and comments — so that text inside them is never mistaken
//! for SQL. Everything else is a word or a punctuation mark.

use std::borrow::Cow;
use std::ops::Range;

/// One token, with its byte range in the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub kind: Kind<'a>,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind<'a> {
    /// A bare word: keyword or unquoted identifier, as written (compare case-insensitively).
    Word(&'a str),
    /// A `"quoted"` identifier, unescaped.
    Quoted(Cow<'a, str>),
    Dot,
    Comma,
    Open,
    Close,
    Semicolon,
    /// A string literal (`'..'`, `E'..'`, `U&'..'`, ...), as written.
    Str,
    /// Literals, parameters, operators: nothing the router looks at.
    Other,
}

impl Kind<'_> {
    /// Whether this is the bare keyword `kw` (given in upper case).
    pub fn is_keyword(&self, kw: &str) -> bool {
        matches!(self, Kind::Word(w) if w.eq_ignore_ascii_case(kw))
    }
}

/// Splits `sql` into tokens, skipping whitespace and comments.
pub(crate) fn tokenize(sql: &str) -> Vec<Token<'_>> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::with_capacity(sql.len() / 4);
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let b = bytes[i];
        let kind = match b {
            b if b.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                // PostgreSQL ends a line comment at a carriage return as well as a newline.
                i = bytes[i..]
                    .iter()
                    .position(|&c| c == b'\n' || c == b'\r')
                    .map_or(bytes.len(), |p| i + p + 1);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(bytes, i);
                continue;
            }
            b'\'' => {
                i = skip_string(bytes, i, false);
                Kind::Str
            }
            b'"' => {
                let (end, ident) = quoted_ident(sql, i);
                i = end;
                Kind::Quoted(ident)
            }
            b'$' => {
                i = skip_dollar(bytes, i);
                Kind::Other
            }
            b'.' => {
                i += 1;
                Kind::Dot
            }
            b',' => {
                i += 1;
                Kind::Comma
            }
            b'(' => {
                i += 1;
                Kind::Open
            }
            b')' => {
                i += 1;
                Kind::Close
            }
            b';' => {
                i += 1;
                Kind::Semicolon
            }
            b if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'_'
                        || bytes[i] == b'$'
                        || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                let word = &sql[start..i];
                // E'..' strings give backslash a meaning; U&'..', B'..', X'..' are plain strings.
                if bytes.get(i) == Some(&b'\'') && word.len() <= 2 {
                    i = skip_string(bytes, i, word.eq_ignore_ascii_case("e"));
                    Kind::Str
                } else {
                    Kind::Word(word)
                }
            }
            b if b.is_ascii_digit() => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
                Kind::Other
            }
            _ => {
                i += 1;
                Kind::Other
            }
        };
        tokens.push(Token {
            kind,
            span: start..i,
        });
    }
    tokens
}

fn find_from(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// PostgreSQL block comments nest.
fn skip_block_comment(bytes: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// Skips `'...'` starting at the opening quote; `''` is an escaped quote, and so is `\'` when
/// `backslash` (an `E'..'` string).
fn skip_string(bytes: &[u8], mut i: usize, backslash: bool) -> usize {
    i += 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslash => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// `$1` parameters and `$tag$ ... $tag$` strings.
fn skip_dollar(bytes: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    if bytes.get(j).is_some_and(u8::is_ascii_digit) {
        while bytes.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        return j;
    }
    while bytes
        .get(j)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80)
    {
        j += 1;
    }
    if bytes.get(j) != Some(&b'$') {
        return i + 1;
    }
    let tag = &bytes[i..=j];
    match find_from(bytes, j + 1, tag) {
        Some(end) => end + tag.len(),
        None => bytes.len(),
    }
}

fn quoted_ident(sql: &str, i: usize) -> (usize, Cow<'_, str>) {
    let bytes = sql.as_bytes();
    let mut j = i + 1;
    let mut escaped = false;
    while j < bytes.len() {
        if bytes[j] == b'"' {
            if bytes.get(j + 1) == Some(&b'"') {
                escaped = true;
                j += 2;
                continue;
            }
            let inner = &sql[i + 1..j];
            let ident = if escaped {
                Cow::Owned(inner.replace("\"\"", "\""))
            } else {
                Cow::Borrowed(inner)
            };
            return (j + 1, ident);
        }
        j += 1;
    }
    (bytes.len(), Cow::Borrowed(&sql[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<Kind<'_>> {
        tokenize(sql).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn hides_literals_comments_and_dollar_quotes() {
        let sql = "SELECT 'FROM posts', E'it\\'s FROM x', $f$ FROM y $f$, $1 -- FROM z\n /* FROM /* w */ */ FROM \"a\"\"b\"";
        let words: Vec<_> = kinds(sql)
            .into_iter()
            .filter(|k| matches!(k, Kind::Word(_) | Kind::Quoted(_)))
            .collect();
        assert_eq!(
            words,
            vec![
                Kind::Word("SELECT"),
                Kind::Word("FROM"),
                Kind::Quoted(Cow::Borrowed("a\"b"))
            ]
        );
    }

    #[test]
    fn spans_point_at_the_source() {
        let sql = "select * from \"posts\"";
        let t = tokenize(sql);
        assert_eq!(&sql[t[3].span.clone()], "\"posts\"");
        assert_eq!(t[1].kind, Kind::Other);
    }
}
