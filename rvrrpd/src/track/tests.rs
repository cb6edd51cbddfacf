//! keepalived's weight rules, clamping, the owner rule, fall/rise and the tracker's
//! change detection.

use super::*;

#[test]
fn unweighted_objects_fault_while_failed() {
    assert_eq!(flag_effect(0, false, true), Effect::None);
    assert_eq!(flag_effect(0, false, false), Effect::Fault);
    // reverse: Fault while the object is OK.
    assert_eq!(flag_effect(0, true, true), Effect::Fault);
    assert_eq!(flag_effect(0, true, false), Effect::None);
}

#[test]
fn negative_weights_apply_while_failed_positive_while_ok() {
    assert_eq!(flag_effect(-50, false, false), Effect::Delta(-50));
    assert_eq!(flag_effect(-50, false, true), Effect::None);
    assert_eq!(flag_effect(20, false, true), Effect::Delta(20));
    assert_eq!(flag_effect(20, false, false), Effect::None);
    // reverse negates: -50 while failed becomes +50, +20 while OK becomes -20.
    assert_eq!(flag_effect(-50, true, false), Effect::Delta(50));
    assert_eq!(flag_effect(20, true, true), Effect::Delta(-20));
}

#[test]
fn file_values_are_multiplied_and_below_minus_253_fault() {
    assert_eq!(file_effect(1, false, -30), Effect::Delta(-30));
    assert_eq!(file_effect(2, false, 10), Effect::Delta(20));
    assert_eq!(file_effect(1, true, 10), Effect::Delta(-10));
    assert_eq!(file_effect(1, false, -253), Effect::Delta(-253));
    assert_eq!(file_effect(1, false, -254), Effect::Fault);
    assert_eq!(file_effect(254, false, -1), Effect::Fault);
    assert_eq!(file_effect(3, false, i64::MIN), Effect::Fault);
    assert_eq!(file_effect(3, false, i64::MAX), Effect::Delta(i64::MAX));
    // weight 0: non-zero is a failure.
    assert_eq!(file_effect(0, false, 0), Effect::None);
    assert_eq!(file_effect(0, false, 7), Effect::Fault);
    assert_eq!(file_effect(0, true, 0), Effect::Fault);
}

#[test]
fn priority_is_the_sum_clamped_to_1_254_and_owners_keep_255() {
    let o = outcome(100, false, [Effect::Delta(-30), Effect::Delta(10)]);
    assert_eq!(
        o,
        Outcome {
            priority: 80,
            fault: false
        }
    );
    assert_eq!(outcome(100, false, [Effect::Delta(-500)]).priority, 1);
    assert_eq!(outcome(100, false, [Effect::Delta(500)]).priority, 254);
    assert_eq!(
        outcome(100, false, [Effect::Delta(i64::MAX), Effect::Delta(1)]).priority,
        254
    );
    // An owner is never lowered (nor raised) by tracking, but can be in Fault.
    assert_eq!(outcome(255, true, [Effect::Delta(-100)]).priority, 255);
    let f = outcome(255, true, [Effect::Fault]);
    assert_eq!(
        f,
        Outcome {
            priority: 255,
            fault: true
        }
    );
}

#[test]
fn fall_and_rise_count_consecutive_runs() {
    let mut h = ScriptHealth::new(false);
    assert!(h.ok());
    // fall = 3: two failures, a success resets, then three failures.
    assert!(!h.record(false, 3, 2));
    assert!(!h.record(false, 3, 2));
    assert!(!h.record(true, 3, 2));
    assert!(!h.record(false, 3, 2));
    assert!(!h.record(false, 3, 2));
    assert!(h.record(false, 3, 2));
    assert!(!h.ok());
    // rise = 2.
    assert!(!h.record(true, 3, 2));
    assert!(!h.record(false, 3, 2));
    assert!(!h.record(true, 3, 2));
    assert!(h.record(true, 3, 2));
    assert!(h.ok());
    // init_fail starts failed.
    let mut h = ScriptHealth::new(true);
    assert!(!h.ok());
    assert!(h.record(true, 1, 1));
}

#[test]
fn tracker_reports_only_groups_whose_outcome_changed() {
    let eth1 = ObjectId::Interface(1);
    let chk = ObjectId::Script(0);
    let mut t = Tracker::new();
    t.set_flag(eth1, true);
    let w = |object, weight| Watch {
        object,
        weight,
        reverse: false,
    };
    assert_eq!(
        t.add_group(1, 100, false, vec![w(eth1, -50), w(chk, 0)]),
        Outcome {
            priority: 100,
            fault: false
        }
    );
    t.add_group(2, 150, false, vec![w(eth1, 0)]);
    t.add_group(3, 255, true, vec![w(eth1, -50)]);
    // eth1 down: group 1 loses 50, group 2 faults, the owner does not change.
    let mut changed = t.set_flag(eth1, false);
    changed.sort_by_key(|c| c.0);
    assert_eq!(
        changed,
        vec![
            (
                1,
                Outcome {
                    priority: 50,
                    fault: false
                }
            ),
            (
                2,
                Outcome {
                    priority: 150,
                    fault: true
                }
            ),
        ]
    );
    // The same state again: nothing.
    assert!(t.set_flag(eth1, false).is_empty());
    // The script fails: group 1 faults too.
    assert_eq!(
        t.set_flag(chk, false),
        vec![(
            1,
            Outcome {
                priority: 50,
                fault: true
            }
        )]
    );
    // An API write of the base priority.
    assert_eq!(
        t.set_base(1, 120),
        Some(Outcome {
            priority: 70,
            fault: true
        })
    );
    assert_eq!(t.set_base(1, 120), None);
    // A removed group is no longer reported.
    t.remove_group(2);
    assert!(t.set_flag(eth1, true).iter().all(|(g, _)| *g != 2));
    assert!(!t.is_watched(ObjectId::Interface(9)));
}

#[test]
fn thousand_groups_on_one_script_are_one_object() {
    let chk = ObjectId::Script(0);
    let mut t = Tracker::new();
    for g in 0..1000 {
        t.add_group(
            g,
            100,
            false,
            vec![Watch {
                object: chk,
                weight: -20,
                reverse: false,
            }],
        );
    }
    let changed = t.set_flag(chk, false);
    assert_eq!(changed.len(), 1000);
    assert!(changed.iter().all(|(_, o)| o.priority == 80 && !o.fault));
}
