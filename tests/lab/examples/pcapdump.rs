//! Prints the VRRP adverts of a pcap file: `cargo run -p rvrrpd-lab --example pcapdump FILE`.

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: pcapdump FILE"))?;
    let bytes = std::fs::read(&path)?;
    let (lt, recs) = rvrrpd_lab::pcap::parse(&bytes)?;
    let t = rvrrpd_lab::Trace::from_raw(lt, &recs);
    println!(
        "{} records, {} adverts, {} arps, {} NAs",
        recs.len(),
        t.adverts.len(),
        t.arps.len(),
        t.nas.len()
    );
    print!("{}", t.summary(usize::MAX));
    Ok(())
}
