//! `rvrrpctl`: the operator's view of a running rvrrpd through its client API — logs in and
//! prints a table of groups, states and Masters (`--json` for scripts), or with `--watch` the
//! state transitions as they happen.

fn main() {
    let args = <rvrrpd::api::client::ClientArgs as clap::Parser>::parse();
    match rvrrpd::api::client::run(&args) {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("rvrrpctl: {e}");
            std::process::exit(1)
        }
    }
}
