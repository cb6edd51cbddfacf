//! Turning text into a [`Config`]: syntax check, deserialization, error location, validation.

use super::error::ConfigError;
use super::locate::Locator;
use super::serde_util::split_element_error;
use super::{validate, Config, Format};

/// Parses and validates `text`; `origin` names it in errors.
pub(super) fn parse(text: &str, format: Format, origin: &str) -> Result<Config, ConfigError> {
    let locator = Locator::new(text, format);
    let mut config = match format {
        Format::Toml => parse_toml(text, origin, &locator)?,
        Format::Json => parse_json(text, origin, &locator)?,
    };
    validate::validate(&mut config, origin, &locator)?;
    // The parser's own structures (several KiB per vrouter) were freed in between the
    // configuration's allocations, pinning their pages: a copy packs the configuration into
    // a few pages and lets the allocator give the parser's back (10,000 vrouters: 22 MiB
    // resident after parsing and trimming, 2.5 MiB with the copy).
    Ok(config.clone())
}

fn parse_toml(text: &str, origin: &str, locator: &Locator) -> Result<Config, ConfigError> {
    // A first pass over a plain table separates syntax errors from invalid directives.
    if let Err(error) = text.parse::<toml::Table>() {
        let (line, column) = match error.span() {
            Some(span) => {
                let line = locator.line_of(span.start);
                let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
                (Some(line), Some(span.start - line_start + 1))
            }
            None => (None, None),
        };
        return Err(ConfigError::Syntax {
            origin: origin.to_string(),
            format: Format::Toml,
            line,
            column,
            message: error.message().trim().to_string(),
        });
    }
    toml::from_str(text).map_err(|error| {
        let offset = error.span().map(|span| span.start);
        data_error(origin, locator, offset, error.message())
    })
}

fn parse_json(text: &str, origin: &str, locator: &Locator) -> Result<Config, ConfigError> {
    serde_json::from_str(text).map_err(|error| {
        let full = error.to_string();
        let message = match full.rfind(" at line ") {
            Some(i) if error.line() > 0 => &full[..i],
            _ => full.as_str(),
        };
        let known = |n: usize| (n > 0).then_some(n);
        match error.classify() {
            serde_json::error::Category::Data => {
                let mut offset = locator.offset_of(error.line(), error.column());
                if !message.starts_with("missing field ") {
                    offset = offset.map(|o| last_value_byte(text, o));
                }
                data_error(origin, locator, offset, message)
            }
            _ => ConfigError::Syntax {
                origin: origin.to_string(),
                format: Format::Json,
                line: known(error.line()),
                column: known(error.column()),
                message: message.to_string(),
            },
        }
    })
}

/// Converts a serde data error at `offset` into an [`ConfigError::Invalid`] naming the directive.
fn data_error(
    origin: &str,
    locator: &Locator,
    offset: Option<usize>,
    message: &str,
) -> ConfigError {
    let path = offset.and_then(|o| locator.path_at(o));
    let mut line = offset.map(|o| locator.line_of(o));
    if let Some((index, message)) = split_element_error(message) {
        let element = format!("[{index}]");
        let directive = match path {
            Some(path) if path.ends_with(&element) => path.to_string(),
            Some(path) => format!("{path}{element}"),
            None => element,
        };
        line = locator.line_of_path(&directive).or(line);
        return ConfigError::Invalid {
            origin: origin.to_string(),
            line,
            directive: Some(directive),
            message: message.to_string(),
        };
    }
    let (directive, message) = if let Some(field) = backticked_after(message, "missing field ") {
        let directive = match path {
            Some(container) => format!("{container}.{field}"),
            None => field.to_string(),
        };
        (Some(directive), "is required but missing".to_string())
    } else if let Some(field) = backticked_after(message, "unknown field ") {
        let expected = message
            .split_once(", ")
            .map(|(_, expected)| format!("; {expected}"))
            .unwrap_or_default();
        let directive = path.map_or_else(|| field.to_string(), str::to_string);
        (
            Some(directive),
            format!("is not a known directive{expected}"),
        )
    } else {
        (path.map(str::to_string), message.to_string())
    };
    ConfigError::Invalid {
        origin: origin.to_string(),
        line,
        directive,
        message,
    }
}

/// serde_json may report a value error after the value, on the following `,`, `}` or `]` (past
/// any whitespace): moves such an offset back onto the value's last byte.
fn last_value_byte(text: &str, offset: usize) -> usize {
    let bytes = text.as_bytes();
    match bytes.get(offset) {
        Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') => bytes[..offset]
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .unwrap_or(offset),
        _ => offset,
    }
}

/// `missing field `vip`` → `vip`.
fn backticked_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split_once('`').map(|(name, _)| name)
}
