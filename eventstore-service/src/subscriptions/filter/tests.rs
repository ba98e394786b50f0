use super::*;
use proptest::prelude::*;

fn filter(spec: &[&str]) -> EventFilter {
    EventFilter::parse(&FilterSpec::Many(
        spec.iter().map(|s| (*s).to_owned()).collect(),
    ))
    .unwrap()
}

#[test]
fn star_matches_everything() {
    let all = EventFilter::parse(&FilterSpec::One("*".into())).unwrap();
    assert!(all.is_all());
    assert!(all.matches("order.placed"));
    assert!(all.matches("x"));
    assert_eq!(all.sql_like_patterns(), None);
}

#[test]
fn namespace_pattern_matches_types_in_the_namespace_only() {
    let f = filter(&["order.*"]);
    assert!(f.matches("order.placed"));
    assert!(f.matches("order.item.added"));
    assert!(!f.matches("order"));
    assert!(!f.matches("orders.placed"));
    assert!(!f.matches("customer.order.placed"));
}

#[test]
fn suffix_pattern_matches_the_name_in_any_namespace() {
    let f = filter(&["*.placed"]);
    assert!(f.matches("order.placed"));
    assert!(f.matches("a.b.placed"));
    assert!(!f.matches("placed"));
    assert!(!f.matches("order.replaced"));
}

#[test]
fn exact_types_and_lists() {
    let f = filter(&["order.placed", "order.shipped"]);
    assert!(f.matches("order.placed"));
    assert!(f.matches("order.shipped"));
    assert!(!f.matches("order.cancelled"));
    assert!(!f.matches("order.placed2"));
}

#[test]
fn a_star_in_a_list_makes_the_filter_all() {
    assert!(filter(&["order.placed", "*"]).is_all());
}

#[test]
fn canonical_form_is_sorted_and_deduplicated() {
    let f = filter(&["b.x", "a.*", "b.x"]);
    assert_eq!(
        f.to_spec(),
        FilterSpec::Many(vec!["a.*".to_owned(), "b.x".to_owned()])
    );
    assert_eq!(f, filter(&["a.*", "b.x"]));
}

#[test]
fn bad_patterns_are_refused_with_their_index() {
    for (bad, needle) in [
        ("", "empty"),
        ("a*b", "not a valid pattern"),
        ("**", "not a valid pattern"),
        ("*.", "not a valid pattern"),
        (".*", "not a valid pattern"),
        ("a.*.*", "not a valid pattern"),
        ("order *", "must not contain"),
    ] {
        let err = EventFilter::parse(&FilterSpec::Many(vec!["ok".into(), bad.into()])).unwrap_err();
        assert_eq!(err.index, Some(1), "{bad:?}");
        assert!(err.reason.contains(needle), "{bad:?}: {}", err.reason);
    }
    let err = EventFilter::parse(&FilterSpec::Many(vec![])).unwrap_err();
    assert_eq!(err.index, None);
    let err = EventFilter::parse(&FilterSpec::One("x*y".into())).unwrap_err();
    assert_eq!(err.index, None);
}

#[test]
fn sql_patterns_escape_like_metacharacters() {
    let f = filter(&["a_b.*", "*.100%", "x\\y"]);
    assert_eq!(
        f.sql_like_patterns().unwrap(),
        vec![
            "a\\_b.%".to_owned(),
            "%.100\\%".to_owned(),
            "x\\\\y".to_owned()
        ]
    );
}

#[test]
fn query_form_splits_on_commas() {
    let f = EventFilter::parse_query("order.placed, order.shipped").unwrap();
    assert_eq!(f, filter(&["order.placed", "order.shipped"]));
}

/// A tiny `LIKE` evaluator (escape `\`), to check that the SQL form selects what `matches` does.
fn like(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('_', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some(('\\', rest)) => match rest.split_first() {
                Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
                None => false,
            },
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

fn segment() -> impl Strategy<Value = String> {
    "[a-c_%\\\\]{1,3}"
}

fn pattern_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        segment().prop_map(|s| format!("{s}.*")),
        segment().prop_map(|s| format!("*.{s}")),
        (segment(), segment()).prop_map(|(a, b)| format!("{a}.{b}")),
    ]
}

proptest! {
    #[test]
    fn sql_form_and_rust_form_agree(
        patterns in proptest::collection::vec(pattern_text(), 1..4),
        types in proptest::collection::vec((segment(), segment()).prop_map(|(a, b)| format!("{a}.{b}")), 1..8),
    ) {
        let f = EventFilter::parse(&FilterSpec::Many(patterns)).unwrap();
        for t in &types {
            let by_sql = match f.sql_like_patterns() {
                None => true,
                Some(likes) => likes.iter().any(|l| like(l, t)),
            };
            prop_assert_eq!(by_sql, f.matches(t), "type {}", t);
        }
    }

    #[test]
    fn canonical_form_parses_back_to_the_same_filter(patterns in proptest::collection::vec(pattern_text(), 1..5)) {
        let f = EventFilter::parse(&FilterSpec::Many(patterns)).unwrap();
        prop_assert_eq!(EventFilter::parse(&f.to_spec()).unwrap(), f);
    }
}

#[test]
fn the_written_form_is_a_string_or_an_array_of_strings() {
    let one: FilterSpec = serde_json::from_str(r#""order.*""#).unwrap();
    assert_eq!(one, FilterSpec::One("order.*".into()));
    let many: FilterSpec = serde_json::from_str(r#"["a.b", "*.c"]"#).unwrap();
    assert_eq!(many, FilterSpec::Many(vec!["a.b".into(), "*.c".into()]));
    let err = serde_json::from_str::<FilterSpec>("42")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("an event type pattern or an array of them"),
        "{err}"
    );
    assert!(serde_json::from_str::<FilterSpec>("[1]").is_err());
    assert_eq!(serde_json::to_string(&many).unwrap(), r#"["a.b","*.c"]"#);
}
