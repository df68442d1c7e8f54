//! Namespace user counts, which decide when a private namespace and what
//! it alone held are released (the unit tests in `namespace.rs` cover
//! lookups and copies).

use libux::namespace::{Namespaces, SYSTEM};

#[test]
fn users_are_counted_one_by_one() {
    let mut ns: Namespaces<u32> = Namespaces::new(4, 4);
    assert_eq!((ns.users(SYSTEM), ns.users(7)), (0, 0), "nobody yet; an unknown one has none");
    ns.enter(SYSTEM);
    ns.enter(SYSTEM);
    assert_eq!(ns.users(SYSTEM), 2);
    assert_eq!(ns.leave(SYSTEM), []);
    assert_eq!(ns.users(SYSTEM), 1);
    // Entering or leaving one that does not exist changes nothing.
    ns.enter(7);
    assert_eq!((ns.users(7), ns.leave(7)), (0, vec![]));
    assert_eq!(ns.private(), 0, "the system's is not private");
    let a = ns.copy(SYSTEM).unwrap();
    assert_eq!(ns.users(a), 0, "a copy starts with no users");
    let b = ns.copy(a).unwrap();
    assert_eq!(ns.private(), 2);
    ns.enter(b);
    ns.leave(b);
    assert_eq!(ns.private(), 1, "b went with its only user");
    ns.enter(a);
    ns.enter(a);
    ns.enter(a);
    assert_eq!(ns.users(a), 3);
}

#[test]
fn a_private_namespace_lives_while_a_user_has_it() {
    let mut ns: Namespaces<u32> = Namespaces::new(4, 4);
    let a = ns.copy(SYSTEM).unwrap();
    ns.enter(a);
    ns.enter(a);
    ns.get_mut(a).unwrap().mount("/n/x", 5).unwrap();
    assert_eq!(ns.leave(a), [], "one user is left");
    assert!(ns.get(a).is_some());
    assert_eq!(ns.leave(a), [5], "the last user takes what only it held");
    assert!(ns.get(a).is_none() && !ns.mounted_anywhere(&5));
}
