//! Types shared by the rvrrpd daemon and its eBPF programs (`no_std`).
#![no_std]
