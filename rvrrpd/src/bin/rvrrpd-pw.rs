//! `rvrrpd-pw`: prints a client API `users` entry.
//!
//! Command-line compatible with rVRRPd 0.1.3's utility: `rvrrpd-pw USER PASSWORD [sha256|scrypt]`,
//! plus `-u/--user`, `-p/--password`, `-a/--algorithm` and `-l/--level`. Positional arguments
//! fill whatever the options left out, in that order. Without a password it prompts twice
//! without echo (or reads one line from standard input when there is no terminal). The default
//! algorithm is scrypt; `sha256` writes the original's format. See `docs/api.md`.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::Parser;
use rvrrpd::cli::PwArgs as Args;
use rvrrpd::users::{self, Access, Algorithm};

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("rvrrpd-pw: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<String, String> {
    let mut positional = args.positional.into_iter();
    let user = args
        .user
        .or_else(|| positional.next())
        .ok_or("missing user name (rvrrpd-pw USER [PASSWORD] [sha256|scrypt])")?;
    let password = match args.password {
        Some(p) => Some(p),
        None => positional.next(),
    };
    let algorithm = match args.algorithm.or_else(|| positional.next()) {
        Some(name) => name.parse::<Algorithm>().map_err(|e| e.to_string())?,
        None => Algorithm::default(),
    };
    if let Some(extra) = positional.next() {
        return Err(format!("unexpected argument {extra:?}"));
    }
    if args.level > 1 {
        eprintln!(
            "rvrrpd-pw: warning: level {} is reserved and grants {} access",
            args.level,
            Access::from_level(args.level).as_str()
        );
    }
    let password = match password {
        Some(p) => p,
        None => read_password(&user)?,
    };
    users::make_entry(&user, args.level, password.as_bytes(), algorithm).map_err(|e| e.to_string())
}

fn read_password(user: &str) -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        // Scripts: one line on standard input.
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("reading the password: {e}"))?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_string());
    }
    let first = rpassword::prompt_password(format!("Password for {user}: "))
        .map_err(|e| format!("reading the password: {e}"))?;
    let second = rpassword::prompt_password("Repeat the password: ")
        .map_err(|e| format!("reading the password: {e}"))?;
    if first != second {
        return Err("the passwords do not match".into());
    }
    Ok(first)
}
