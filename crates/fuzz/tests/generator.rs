//! A CI-sized fuzz run: a few thousand generated inputs per loader, with no panic, no hang and
//! no allocation above the loader's stated bound; and the generator reaches both outcomes.

use ami_fuzz::all_targets;
use ami_fuzz::runner::fuzz;

#[test]
fn a_few_thousand_inputs_per_loader_never_panic_hang_or_exceed_the_bound() {
    for t in all_targets() {
        let r = fuzz(t.as_ref(), 3000, 42, None);
        assert_eq!((r.panics, r.hangs, r.violations), (0, 0, 0), "{r:?}");
        assert_eq!(r.inputs, 3000);
        assert!(
            r.errors > 1000 && r.accepted >= t.seeds().len() as u64,
            "{r:?}"
        );
    }
}

#[test]
fn runs_are_deterministic_by_seed() {
    let t = ami_fuzz::target("npy").unwrap();
    let strip = |mut r: ami_fuzz::runner::Report| {
        (r.seconds, r.slowest_ms) = (0.0, 0.0);
        r
    };
    let a = strip(fuzz(t.as_ref(), 500, 9, None));
    assert_eq!(a, strip(fuzz(t.as_ref(), 500, 9, None)));
    assert_ne!(a, strip(fuzz(t.as_ref(), 500, 10, None)));
}
