//! Maps directive paths (`vrouter[1].priority`) to positions in the configuration text and back.
//!
//! serde reports *where* a value failed (a TOML span, a JSON line/column) but not *which*
//! directive it was; validation after parsing knows the directive but not the line. This module
//! scans the text once and records, for every key, table and array element, its path and byte
//! span. The scanner is deliberately tolerant: it only runs on text the real parser accepted, and
//! when it cannot make sense of something it simply records less (errors then lack a line).

use std::collections::HashMap;

use super::Format;

/// One located node: a key with its value, a table, or an array element.
#[derive(Debug, Clone)]
struct Node {
    path: String,
    start: usize,
    end: usize,
}

/// Positions of every directive in one configuration text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Locator {
    nodes: Vec<Node>,
    line_starts: Vec<usize>,
}

impl Locator {
    /// Scans `text` written in `format`.
    pub(crate) fn new(text: &str, format: Format) -> Self {
        let mut scanner = Scanner {
            text: text.as_bytes(),
            pos: 0,
            nodes: Vec::new(),
        };
        match format {
            Format::Toml => scanner.toml_document(),
            Format::Json => {
                scanner.skip_blank();
                scanner.value(String::new());
            }
        }
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            nodes: scanner.nodes,
            line_starts,
        }
    }

    /// 1-based line of a byte offset.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    /// Byte offset of a 1-based line and column (as reported by serde_json).
    pub(crate) fn offset_of(&self, line: usize, column: usize) -> Option<usize> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        Some(start + column.saturating_sub(1))
    }

    /// Path of the innermost node containing `offset`.
    pub(crate) fn path_at(&self, offset: usize) -> Option<&str> {
        self.nodes
            .iter()
            .filter(|n| n.start <= offset && offset < n.end.max(n.start + 1))
            .max_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)))
            .map(|n| n.path.as_str())
    }

    /// 1-based line of `path`, or of its nearest located parent (`a[1].b.c` → `a[1].b` → `a[1]`).
    pub(crate) fn line_of_path(&self, path: &str) -> Option<usize> {
        let mut current = path;
        loop {
            if let Some(node) = self.nodes.iter().find(|n| n.path == current) {
                return Some(self.line_of(node.start));
            }
            current = parent_path(current)?;
        }
    }
}

/// `a[1].b` → `a[1]`, `a[1]` → `a`, `a` → none.
fn parent_path(path: &str) -> Option<&str> {
    if let Some(stripped) = path.strip_suffix(']') {
        return stripped.rfind('[').map(|i| &path[..i]);
    }
    path.rfind('.').map(|i| &path[..i])
}

/// Joins a parent path and a key.
fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
    nodes: Vec<Node>,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        self.text[self.pos.min(self.text.len())..].starts_with(s.as_bytes())
    }

    /// Skips spaces, tabs, newlines and `#` comments.
    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'#' => self.skip_line(),
                _ => break,
            }
        }
    }

    /// Skips spaces and tabs only.
    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == b'\n' {
                break;
            }
        }
    }

    /// A whole TOML document: table headers and `key = value` lines.
    fn toml_document(&mut self) {
        let mut prefix = String::new();
        let mut array_counts: HashMap<String, usize> = HashMap::new();
        let mut open_table: Option<usize> = None;
        loop {
            self.skip_blank();
            let Some(c) = self.peek() else { break };
            let start = self.pos;
            if c == b'[' {
                if let Some(index) = open_table.take() {
                    self.nodes[index].end = start;
                }
                let is_array = self.starts_with("[[");
                self.pos += if is_array { 2 } else { 1 };
                self.skip_spaces();
                let keys = self.key_segments();
                self.skip_line();
                let mut path = String::new();
                for (i, key) in keys.iter().enumerate() {
                    path = child(&path, key);
                    let last = i + 1 == keys.len();
                    if last && is_array {
                        let count = array_counts.entry(path.clone()).or_insert(0);
                        *count += 1;
                        path = format!("{path}[{}]", *count - 1);
                    } else if let Some(count) = array_counts.get(&path) {
                        path = format!("{path}[{}]", count.saturating_sub(1));
                    }
                }
                // Later `[[a]]` headers restart any nested arrays of tables under `a`.
                let nested = format!("{path}.");
                array_counts.retain(|k, _| !k.starts_with(&nested));
                prefix = path.clone();
                open_table = Some(self.nodes.len());
                self.nodes.push(Node {
                    path,
                    start,
                    end: self.text.len(),
                });
            } else {
                let before = self.pos;
                self.key_value(&prefix, b'=');
                if self.pos == before {
                    self.skip_line();
                }
            }
        }
    }

    /// Dotted key segments (`a."b c".d`), stopping before `=`, `:`, `]` or end of line.
    fn key_segments(&mut self) -> Vec<String> {
        let mut keys = Vec::new();
        loop {
            self.skip_spaces();
            match self.peek() {
                Some(q @ (b'"' | b'\'')) => {
                    let start = self.pos + 1;
                    self.string(q);
                    let end = self.pos.saturating_sub(1).max(start);
                    keys.push(String::from_utf8_lossy(&self.text[start..end]).into_owned());
                }
                Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' => {
                    let start = self.pos;
                    while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
                    {
                        self.pos += 1;
                    }
                    keys.push(String::from_utf8_lossy(&self.text[start..self.pos]).into_owned());
                }
                _ => break,
            }
            self.skip_spaces();
            if self.peek() == Some(b'.') {
                self.pos += 1;
            } else {
                break;
            }
        }
        keys
    }

    /// `key = value` (TOML) or `"key": value` (JSON); records the node.
    fn key_value(&mut self, parent: &str, separator: u8) {
        let start = self.pos;
        let keys = self.key_segments();
        if keys.is_empty() {
            return;
        }
        self.skip_spaces();
        if self.peek() != Some(separator) {
            return;
        }
        self.pos += 1;
        self.skip_blank();
        let path = keys.iter().fold(parent.to_string(), |p, k| child(&p, k));
        let index = self.nodes.len();
        self.nodes.push(Node {
            path: path.clone(),
            start,
            end: start,
        });
        self.value(path);
        self.nodes[index].end = self.pos;
    }

    /// Any value; records nodes for array elements and inline-table keys.
    fn value(&mut self, path: String) {
        match self.peek() {
            Some(q @ (b'"' | b'\'')) => self.string(q),
            Some(b'[') => {
                self.pos += 1;
                let mut index = 0;
                loop {
                    self.skip_blank();
                    match self.peek() {
                        None => break,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        Some(b',') => self.pos += 1,
                        Some(_) => {
                            let start = self.pos;
                            let element = format!("{path}[{index}]");
                            let node = self.nodes.len();
                            self.nodes.push(Node {
                                path: element.clone(),
                                start,
                                end: start,
                            });
                            self.value(element);
                            self.nodes[node].end = self.pos;
                            index += 1;
                            if self.pos == start {
                                self.pos += 1;
                            }
                        }
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                loop {
                    self.skip_blank();
                    match self.peek() {
                        None => break,
                        Some(b'}') => {
                            self.pos += 1;
                            break;
                        }
                        Some(b',') => self.pos += 1,
                        Some(_) => {
                            let before = self.pos;
                            let separator = if self.peek() == Some(b'"') && self.json_key_ahead() {
                                b':'
                            } else {
                                b'='
                            };
                            self.key_value(&path, separator);
                            if self.pos == before {
                                self.pos += 1;
                            }
                        }
                    }
                }
            }
            _ => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b']' | b'}' | b'\n' | b'\r' | b'#') {
                        break;
                    }
                    self.pos += 1;
                }
                // Trailing blanks are not part of the value; the blanks before it are not
                // either, and giving them back would scan the same text forever.
                while self.pos > start && matches!(self.text[self.pos - 1], b' ' | b'\t') {
                    self.pos -= 1;
                }
            }
        }
    }

    /// Whether the quoted key at the cursor is followed by `:` (JSON) rather than `=` (TOML).
    fn json_key_ahead(&self) -> bool {
        let mut probe = Scanner {
            text: self.text,
            pos: self.pos,
            nodes: Vec::new(),
        };
        probe.string(b'"');
        probe.skip_spaces();
        probe.peek() == Some(b':')
    }

    /// A quoted string starting at the cursor, including TOML triple-quoted forms.
    fn string(&mut self, quote: u8) {
        let triple = [quote; 3];
        if self.text[self.pos..].starts_with(&triple) {
            self.pos += 3;
            while self.pos < self.text.len() {
                if quote == b'"' && self.text[self.pos] == b'\\' {
                    self.pos += 2;
                } else if self.text[self.pos..].starts_with(&triple) {
                    self.pos += 3;
                    while self.peek() == Some(quote) {
                        self.pos += 1;
                    }
                    return;
                } else {
                    self.pos += 1;
                }
            }
            return;
        }
        self.pos += 1;
        while let Some(c) = self.peek() {
            self.pos += 1;
            if quote == b'"' && c == b'\\' {
                self.pos += 1;
            } else if c == quote || c == b'\n' {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"debug = 1
[[vrouter]]
group = 1
vip = ["10.0.0.1", "10.0.0.2"]

[[vrouter]]
group = 2 # comment
timers = { advert = 3 }

[protocols]
  [[protocols.static]]
  route = "0.0.0.0"
"#;

    #[test]
    fn toml_paths_and_lines() {
        let loc = Locator::new(TOML, Format::Toml);
        assert_eq!(loc.line_of_path("debug"), Some(1));
        assert_eq!(loc.line_of_path("vrouter[0].group"), Some(3));
        assert_eq!(loc.line_of_path("vrouter[0].vip[1]"), Some(4));
        assert_eq!(loc.line_of_path("vrouter[1].group"), Some(7));
        assert_eq!(loc.line_of_path("vrouter[1].timers.advert"), Some(8));
        assert_eq!(loc.line_of_path("vrouter[1].priority"), Some(6));
        assert_eq!(loc.line_of_path("protocols.static[0].route"), Some(12));
        let offset = TOML.find("3 }").unwrap_or_default();
        assert_eq!(loc.path_at(offset), Some("vrouter[1].timers.advert"));
    }

    /// Found by the `config` fuzz target: a value that is only a closing `}` (or `]` in a
    /// table) after blanks, as in `a = [ }`, made the scanner give the blanks back and scan
    /// them again forever, growing its node list until memory ran out.
    #[test]
    fn malformed_text_is_scanned_in_bounded_time() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for text in ["a = [ }", "a = { b = [\t} }", "[[v]]\nx = [  }, 1]"] {
                let nodes = Locator::new(text, Format::Toml).nodes.len();
                let json = Locator::new(text, Format::Json).nodes.len();
                let _ = tx.send(nodes.max(json));
            }
        });
        for _ in 0..3 {
            let nodes = rx.recv_timeout(std::time::Duration::from_secs(10));
            assert!(nodes.is_ok_and(|n| n < 10), "scanner did not finish");
        }
    }

    #[test]
    fn json_paths_and_lines() {
        let text = "{\n \"debug\": 1,\n \"vrouter\": [\n  {\"group\": 1,\n   \"vip\": \"10.0.0.1\"}\n ]\n}";
        let loc = Locator::new(text, Format::Json);
        assert_eq!(loc.line_of_path("debug"), Some(2));
        assert_eq!(loc.line_of_path("vrouter[0].vip"), Some(5));
        let offset = loc.offset_of(5, 10).unwrap_or_default();
        assert_eq!(loc.path_at(offset), Some("vrouter[0].vip"));
    }
}
