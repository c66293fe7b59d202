//! The process-wide stack size setting: STACK-1, STACK-4, X-STACK-1 (STACK-5, applying it to
//! spawns, is in `spawn_stack_size.rs`). One test: the setting is process-wide.

use thread_core::{ThreadError, stack_size};

/// proves: STACK-1, STACK-4, STACK-5, X-STACK-1
#[test]
fn stack_size_sets_returns_previous_and_refuses_small_sizes() {
    // X-STACK-1: None only reads.
    assert_eq!(stack_size(None), Ok(0));
    assert_eq!(stack_size(None), Ok(0));
    // STACK-1: set returns the previous setting; 0 is the platform default.
    assert_eq!(stack_size(Some(1 << 20)), Ok(0));
    assert_eq!(stack_size(None), Ok(1 << 20));
    assert_eq!(stack_size(Some(0)), Ok(1 << 20));
    assert_eq!(stack_size(Some(0)), Ok(0));
    // STACK-4: at least 32768, no rounding; else ValueError and nothing changes.
    assert_eq!(stack_size(Some(32768)), Ok(0));
    assert_eq!(stack_size(Some(32769)), Ok(32768));
    assert_eq!(stack_size(None), Ok(32769));
    for bad in [1, 4096, 16384, 32767] {
        let err = stack_size(Some(bad)).unwrap_err();
        assert_eq!(err, ThreadError::StackSizeInvalid { size: bad });
        assert_eq!(err.python_type(), "ValueError");
        assert_eq!(err.to_string(), format!("size not valid: {bad} bytes"));
        assert_eq!(stack_size(None), Ok(32769));
    }
    // Huge sizes are accepted here and fail at spawn (SPAWN-4).
    assert_eq!(stack_size(Some(usize::MAX / 2)), Ok(32769));
    assert_eq!(stack_size(Some(0)), Ok(usize::MAX / 2));

    // Race-free: concurrent setters each get back the value they replaced, so the (old, new)
    // pairs chain from 0 through every value set.
    let threads: Vec<_> = (1..=4usize)
        .map(|t| {
            std::thread::spawn(move || {
                (0..250)
                    .map(|i| {
                        let new = 32768 + t * 100_000 + i;
                        (stack_size(Some(new)).unwrap(), new)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let pairs: Vec<(usize, usize)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let next: std::collections::HashMap<usize, usize> = pairs.iter().copied().collect();
    assert_eq!(
        next.len(),
        pairs.len(),
        "no previous value was handed out twice"
    );
    let (mut at, mut steps) = (0, 0);
    while let Some(&n) = next.get(&at) {
        at = n;
        steps += 1;
    }
    assert_eq!(steps, 1000);
    assert_eq!(stack_size(None), Ok(at));
    assert_eq!(stack_size(Some(0)), Ok(at));
}
