//! A small Markdown → man(7) converter, enough for docs/configuration.md: headings, paragraphs,
//! bullet and numbered lists, fenced code blocks, tables (one tagged paragraph per row, the
//! first cell as the tag), and inline code, bold, italics and links.

/// What the page header says.
pub struct Page<'a> {
    /// Page name, e.g. `rvrrpd.conf`.
    pub name: &'a str,
    /// Section, e.g. `5`.
    pub section: &'a str,
    /// The NAME line's description.
    pub summary: &'a str,
    /// Footer source, e.g. `rvrrpd 0.2.0`.
    pub source: &'a str,
    /// Header manual title.
    pub manual: &'a str,
    /// SEE ALSO entries, e.g. `rvrrpd(8)`.
    pub see_also: &'a [&'a str],
}

/// Escapes text for roff: backslashes, hyphens (as `\-`, so options stay searchable and
/// copyable) and a control character at the start of a line.
pub fn escape(s: &str) -> String {
    let mut out = escape_mid(s);
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

/// Inline Markdown to roff: `code` and **bold** in bold, *emphasis* in italics, links as
/// their text.
pub fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            if let Some(end) = rest[1..].find('`') {
                out.push_str(&format!("\\fB{}\\fR", escape_mid(&rest[1..1 + end])));
                rest = &rest[end + 2..];
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix("**") {
            if let Some(end) = r.find("**") {
                out.push_str(&format!("\\fB{}\\fR", inline(&r[..end])));
                rest = &r[end + 2..];
                continue;
            }
        }
        if c == '*' {
            if let Some(end) = rest[1..].find('*').filter(|&e| e > 0) {
                out.push_str(&format!("\\fI{}\\fR", inline(&rest[1..1 + end])));
                rest = &rest[end + 2..];
                continue;
            }
        }
        if c == '[' {
            if let Some((text, after)) = link(rest) {
                out.push_str(&inline(text));
                rest = after;
                continue;
            }
        }
        out.push_str(&escape_mid(&c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

/// `[text](target)` at the start of `s`: the text and what follows the link.
fn link(s: &str) -> Option<(&str, &str)> {
    let close = s.find("](")?;
    let end = s[close..].find(')')? + close;
    Some((&s[1..close], &s[end + 1..]))
}

/// Escaping inside a line (no start-of-line rule); dashes and arrows as roff glyphs, so the
/// page is plain ASCII and renders without `preconv`.
fn escape_mid(s: &str) -> String {
    s.replace('\\', "\\e")
        .replace('-', "\\-")
        .replace('–', "\\(en")
        .replace('—', "\\(em")
        .replace('→', "\\(->")
        .replace('’', "'")
        .replace('…', "...")
}

/// A heading as `.SH`/`.SS` text: plain, escaped, `upper` for `.SH`.
pub fn heading(h: &str, upper: bool) -> String {
    let mut plain = String::new();
    let mut rest = h;
    while let Some(c) = rest.chars().next() {
        if c == '[' {
            if let Some((text, after)) = link(rest) {
                plain.push_str(text);
                rest = after;
                continue;
            }
        }
        if c != '`' && c != '*' {
            plain.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    let plain = if upper { plain.to_uppercase() } else { plain };
    escape_mid(plain.trim()).replace('"', "\\(dq")
}

/// Splits a table row into cells (a `|` inside backticks stays in its cell).
fn cells(row: &str) -> Vec<String> {
    let row = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut code = false;
    for c in row.chars() {
        match c {
            '`' => {
                code = !code;
                cur.push(c);
            }
            '|' if !code => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// The whole page.
pub fn markdown_to_man(md: &str, page: &Page<'_>) -> String {
    let mut out = format!(
        ".TH \"{}\" \"{}\" \"\" \"{}\" \"{}\"\n.SH NAME\n{} \\- {}\n.SH DESCRIPTION\n",
        page.name.to_uppercase(),
        page.section,
        escape_mid(page.source),
        page.manual,
        escape_mid(page.name),
        escape_mid(page.summary)
    );
    let mut para: Vec<String> = Vec::new();
    let mut lines = md.lines().peekable();
    let flush = |para: &mut Vec<String>, out: &mut String| {
        if !para.is_empty() {
            out.push_str(&inline(&para.join(" ")));
            out.push('\n');
            para.clear();
        }
    };
    while let Some(line) = lines.next() {
        let t = line.trim();
        if t.starts_with("```") {
            flush(&mut para, &mut out);
            out.push_str(".PP\n.RS 4\n.nf\n");
            for code in lines.by_ref() {
                if code.trim().starts_with("```") {
                    break;
                }
                out.push_str(&escape(code));
                out.push('\n');
            }
            out.push_str(".fi\n.RE\n");
        } else if let Some(h) = t.strip_prefix("# ") {
            // The title: NAME already says it.
            let _ = h;
        } else if let Some(h) = t.strip_prefix("## ") {
            flush(&mut para, &mut out);
            out.push_str(&format!(".SH \"{}\"\n", heading(h, true)));
        } else if let Some(h) = t.strip_prefix("### ") {
            flush(&mut para, &mut out);
            out.push_str(&format!(".SS \"{}\"\n", heading(h, false)));
        } else if t.starts_with('|') {
            flush(&mut para, &mut out);
            let header = cells(t);
            // The separator row.
            if lines.peek().is_some_and(|l| l.trim().starts_with("|-")) {
                lines.next();
            }
            while let Some(row) = lines.peek().filter(|l| l.trim().starts_with('|')) {
                let row = cells(row);
                lines.next();
                out.push_str(&format!(".TP\n{}\n", inline(&row[0])));
                let rest: Vec<String> = row
                    .iter()
                    .zip(&header)
                    .skip(1)
                    .map(|(c, h)| format!("{}: {}", inline(h), inline(c)))
                    .collect();
                out.push_str(&rest.join("\n.br\n"));
                out.push('\n');
            }
        } else if let Some(item) = t
            .strip_prefix("* ")
            .or_else(|| t.strip_prefix("- "))
            .map(|i| ("\\(bu", 2, i))
            .or_else(|| numbered(t).map(|(n, i)| (n, 4, i)))
        {
            flush(&mut para, &mut out);
            out.push_str(&format!(".IP {} {}\n", item.0, item.1));
            para.push(item.2.to_string());
        } else if t.is_empty() {
            flush(&mut para, &mut out);
            if !out.ends_with(".PP\n") && !out.ends_with("\"\n") {
                out.push_str(".PP\n");
            }
        } else {
            para.push(t.to_string());
        }
    }
    flush(&mut para, &mut out);
    if !page.see_also.is_empty() {
        let refs: Vec<String> = page
            .see_also
            .iter()
            .map(|r| match r.split_once('(') {
                Some((n, s)) => format!("\\fB{}\\fR({s}", escape_mid(n)),
                None => escape_mid(r),
            })
            .collect();
        out.push_str(&format!(".SH \"SEE ALSO\"\n{}\n", refs.join(", ")));
    }
    out
}

/// `1. text` → (`1.`, `text`).
fn numbered(t: &str) -> Option<(&str, &str)> {
    let dot = t.find(". ")?;
    t[..dot]
        .chars()
        .all(|c| c.is_ascii_digit())
        .then(|| (&t[..dot + 1], &t[dot + 2..]))
        .filter(|(n, _)| n.len() > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: Page<'static> = Page {
        name: "x.conf",
        section: "5",
        summary: "a file",
        source: "x 1",
        manual: "m",
        see_also: &["x(8)"],
    };

    #[test]
    fn inline_markup_and_escapes() {
        assert_eq!(
            inline("`a-b` **c** *d* [e](f.md)"),
            "\\fBa\\-b\\fR \\fBc\\fR \\fId\\fR e"
        );
        assert_eq!(inline(".x \\ y"), "\\&.x \\e y");
        assert_eq!(inline("1–16"), "1\\(en16");
        assert_eq!(
            heading("Routes: `[protocols]`", true),
            "ROUTES: [PROTOCOLS]"
        );
    }

    #[test]
    fn blocks_become_requests() {
        let md = "# T\n\nintro\nmore\n\n## Sec\n\n* one\n  cont\n* two\n\n```\n.dot\n```\n\n\
                  | k | type |\n|---|---|\n| `a` | int |\n| `b|c` | str |\n\n### Sub\n\ntext\n";
        let m = markdown_to_man(md, &PAGE);
        assert!(
            m.starts_with(".TH \"X.CONF\" \"5\" \"\" \"x 1\" \"m\"\n.SH NAME\nx.conf \\- a file\n")
        );
        assert!(m.contains("intro more\n"), "{m}");
        assert!(m.contains(".SH \"SEC\"\n"), "{m}");
        assert!(m.contains(".IP \\(bu 2\none cont\n"), "{m}");
        assert!(m.contains(".nf\n\\&.dot\n.fi\n"), "{m}");
        assert!(m.contains(".TP\n\\fBa\\fR\ntype: int\n"), "{m}");
        assert!(m.contains(".TP\n\\fBb|c\\fR\ntype: str\n"), "{m}");
        assert!(m.contains(".SS \"Sub\"\n"), "{m}");
        assert!(m.ends_with(".SH \"SEE ALSO\"\n\\fBx\\fR(8)\n"), "{m}");
    }
}
