//! The timing wheel against its reference model (`rvrrpd::timer::model`): the same checker
//! the unit tests run, on scenarios decoded from the input (`rvrrpd_fuzz::wheel`). Any
//! difference in fired timers (set or order), `len`, `next_deadline`, `get`/`deadline`, or a
//! stale id accepted, panics with the step that differed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rvrrpd::timer::model::{check, shape};
use rvrrpd::timer::{TimingWheel, WheelConfig};

fuzz_target!(|data: &[u8]| {
    let s = rvrrpd_fuzz::wheel::decode(data);
    let config: WheelConfig = shape(s.tick_us, s.slots);
    if s.tick_us == 0 || !s.slots.is_power_of_two() {
        // An invalid shape is refused with a typed error, never a panic or a wheel.
        assert!(
            TimingWheel::<u64>::with_config(config).is_err(),
            "{config:?}"
        );
        return;
    }
    if let Err(mismatch) = check(config, s.start, &s.ops) {
        panic!("timing wheel differs from the reference: {mismatch}");
    }
});
