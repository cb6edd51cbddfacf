//! `rvrrpctl --watch`: logs in, reads `GET /events` and prints one line per transition as it
//! arrives (`--json`: the event's JSON object), until the stream ends or `--count` are shown.

use std::io::Write;

use http_body_util::BodyExt;

use super::client::{trust_mode, Client, ClientArgs, ClientError};
use super::events::TransitionView;

/// Longest SSE line accepted (a transition is a few hundred bytes).
const MAX_LINE: usize = 64 * 1024;

/// Splits an SSE byte stream into events: feed bytes, get the `data` of each complete
/// `event: transition`.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    event: Option<String>,
    data: String,
}

impl SseParser {
    /// Feeds `bytes`; returns the data of every transition event completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<String>, String> {
        let mut done = Vec::new();
        for &b in bytes {
            if b != b'\n' {
                if self.line.len() >= MAX_LINE {
                    return Err(format!("event stream line longer than {MAX_LINE} bytes"));
                }
                self.line.push(b);
                continue;
            }
            let line = String::from_utf8_lossy(&self.line)
                .trim_end_matches('\r')
                .to_string();
            self.line.clear();
            if line.is_empty() {
                let event = self.event.take();
                let data = std::mem::take(&mut self.data);
                if event.as_deref().unwrap_or("message") == "transition" && !data.is_empty() {
                    done.push(data);
                }
            } else if let Some(value) = line.strip_prefix("data:") {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(value.strip_prefix(' ').unwrap_or(value));
            } else if let Some(value) = line.strip_prefix("event:") {
                self.event = Some(value.trim().to_string());
            }
            // Comments (`:`) and other fields are ignored.
        }
        Ok(done)
    }
}

/// One human-readable line for a transition.
pub fn render(t: &TransitionView) -> String {
    let secs = t.time.floor() as i64;
    let when = time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.time.to_string());
    format!(
        "{when}  {:<16} group {:<3} on {:<10} {} -> {} ({}, priority {}, {})\n",
        t.name,
        t.group,
        t.interface,
        t.from.as_str(),
        t.to.as_str(),
        t.notify,
        t.priority,
        t.reason
    )
}

/// Prints the transitions to `out` as they arrive.
pub async fn watch(
    args: &ClientArgs,
    password: &[u8],
    out: &mut dyn Write,
) -> Result<u64, ClientError> {
    let mut client = Client::new(&args.url, trust_mode(args))?;
    client.login(&args.user, password).await?;
    let mut body = client.open_stream("/events").await?;
    let mut parser = SseParser::default();
    let mut shown = 0u64;
    let limit = args.count.unwrap_or(u64::MAX);
    let body_error = |reason: String| ClientError::Body {
        path: "/events".into(),
        reason,
    };
    while shown < limit {
        let Some(frame) = body.frame().await else {
            break;
        };
        let frame = frame.map_err(|e| ClientError::Http(format!("reading /events: {e}")))?;
        let Some(bytes) = frame.data_ref() else {
            continue;
        };
        for data in parser.feed(bytes).map_err(body_error)? {
            let line = if args.json {
                format!("{data}\n")
            } else {
                let t: serde_json::Value =
                    serde_json::from_str(&data).map_err(|e| body_error(e.to_string()))?;
                render_value(&t).map_err(body_error)?
            };
            out.write_all(line.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| ClientError::Http(format!("writing: {e}")))?;
            shown += 1;
            if shown >= limit {
                break;
            }
        }
    }
    client.logout().await;
    Ok(shown)
}

/// [`render`] of a transition received as JSON.
fn render_value(v: &serde_json::Value) -> Result<String, String> {
    let text = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("transition without {k}: {v}"))
    };
    let num = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| format!("transition without {k}: {v}"))
    };
    let state = |k: &str| -> Result<super::GroupState, String> {
        let s = text(k)?;
        super::GroupState::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| format!("unknown state {s:?}"))
    };
    Ok(render(&TransitionView {
        group: num("group")? as u8,
        interface: text("interface")?,
        name: text("name")?,
        from: state("from")?,
        to: state("to")?,
        notify: text("notify")?,
        priority: num("priority")? as u8,
        reason: text("reason")?,
        time: num("time")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_frames_split_across_reads() {
        let mut p = SseParser::default();
        assert_eq!(p.feed(b": hello\n\nevent: trans").ok(), Some(vec![]));
        assert_eq!(p.feed(b"ition\ndata: {\"a\"").ok(), Some(vec![]));
        assert_eq!(
            p.feed(b":1}\n\n: keep-alive\n\nevent: other\ndata: x\n\nevent: transition\r\ndata: 2\r\n\r\n")
                .ok(),
            Some(vec!["{\"a\":1}".to_string(), "2".to_string()])
        );
        assert!(p.feed(&vec![b'x'; MAX_LINE + 1]).is_err());
    }

    #[test]
    fn transitions_render_on_one_line() {
        let v = serde_json::json!({"group": 1, "interface": "eth0", "name": "gw", "from": "Backup",
            "to": "Master", "notify": "MASTER", "priority": 100, "reason": "master-down",
            "time": 0.5});
        let line = render_value(&v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            line,
            "1970-01-01T00:00:00Z  gw               group 1   on eth0       Backup -> Master (MASTER, priority 100, master-down)\n"
        );
        assert!(render_value(&serde_json::json!({"group": 1})).is_err());
    }
}
