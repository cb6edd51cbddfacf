//! Configuration writers and launchers for the daemons under test and their peers.

pub mod frr;
pub mod keepalived;
pub mod rvrrpd;

/// Quotes `s` as a TOML basic string.
pub(crate) fn toml_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Formats seconds as TOML: an integer when whole (what rVRRPd 0.1.3 accepts), else a float.
pub(crate) fn toml_secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s}")
    }
}
